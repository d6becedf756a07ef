"""The service's own process stays small: OCR libraries load in the pool only (decision 0502)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from ragapi_ocr.app import create_app
from tests.ocr.conftest import ocr_settings
from tests.support.apps import running

#: What only the pool processes need (PyMuPDF alone is 116 MB of RSS).
POOL_ONLY = (
    "pymupdf", "fitz", "rapidocr", "onnxruntime", "openvino", "cv2", "openpyxl", "docx", "pptx"
)  # fmt: skip

PROBE = f"""
import sys
from ragapi_ocr.app import create_app
from ragapi_ocr.settings import OcrSettings
import ragapi_ocr.tasks, ragapi_ocr.engines.deepseek, ragapi_ocr.engines.local
create_app(OcrSettings(ocr_processes=1))
print(sorted(n for n in {POOL_ONLY!r} if n in sys.modules))
"""


def test_building_the_app_imports_no_pdf_ocr_or_office_library() -> None:
    # A fresh interpreter: this test process has run OCR in threads already.
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=False
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def children(pool_only: bool) -> set[int]:
    """This process's children: all, or the pool workers (not multiprocessing's tracker)."""
    found = set()
    for child in psutil.Process().children(recursive=True):
        try:
            if not pool_only or any("spawn_main" in part for part in child.cmdline()):
                found.add(child.pid)
        except psutil.NoSuchProcess:
            continue
    return found


# Warm: the two page processes (ocr_processes=2) and the spare one for short jobs.
@pytest.mark.parametrize(("warm_up", "started"), [(False, 0), (True, 3)])
async def test_the_pool_starts_at_start_up_only_when_warm_up_is_set(
    nats_url: str, redis_url: str, tmp_path: Path, warm_up: bool, started: int
) -> None:
    settings = ocr_settings(nats_url, redis_url, str(tmp_path))
    settings = settings.model_copy(update={"ocr_warm_up": warm_up})
    before = children(pool_only=False)

    async with running(create_app(settings)) as client:
        # Serving a request takes several loop turns: the warm-up task has submitted its jobs,
        # and the executor spawns a process synchronously on submit.
        assert (await client.get("/readyz")).status_code == 200
        assert len(children(pool_only=True) - before) == started
        if not warm_up:  # no process at all, not even the resource tracker
            assert children(pool_only=False) == before
