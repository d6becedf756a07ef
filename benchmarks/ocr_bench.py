"""OCR: accuracy (CER, WER per language and layout) and pages/s of the local engine.

    .venv/bin/python -m benchmarks.ocr_bench [--scan-pages 6] [--pages 12] [--processes N]

The scanned set is :mod:`tests.ocr.scanset` (seeded A4 pages in English and
Chinese: paragraphs, a ruled table, two columns; rendered at 150-300 dpi,
rotated up to 2.5 degrees, blurred, noisy, JPEG-compressed) read as one PDF by
the local engine exactly as the service does (the
:class:`~ragapi_ocr.cpu.CpuPool`, pages in parallel); each page's markdown is
compared with its truth (:mod:`tests.ocr.textmetrics`). A text-layer PDF gives
the fast path's pages/s. ``cpu_s_per_page`` is the pool processes' CPU time
(children's rusage, less a warm-up-only pool's), steadier than pages/s on a
shared machine; ``load_1m`` says how shared it was. The engine's knobs come
from ``RAGAPI_OCR_*`` as in the service. Prints one JSON object; needs no
NATS, Redis or network.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import resource
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pymupdf

from ragapi_common.metrics import Metrics
from ragapi_common.tenancy import Endpoint
from ragapi_ocr.content import Extraction, item_markdown
from ragapi_ocr.cpu import CpuPool, default_processes
from ragapi_ocr.engines.base import Caller, Source
from ragapi_ocr.engines.local import LocalEngine
from ragapi_ocr.metrics import ocr_metrics
from ragapi_ocr.settings import OcrSettings
from ragapi_ocr.tasks import Limits, LocalOptions, inspect
from tests.ocr import scanset
from tests.ocr.textmetrics import cer, edit_distance, normalise, tokens

_TEXT = "the service reads every page and keeps tables images and equations for the index"
WORDS = _TEXT.split()


def text_pdf(pages: int) -> bytes:
    doc = pymupdf.open()
    for number in range(pages):
        page = doc.new_page()  # A4
        for n in range(34):
            words = [WORDS[(number * 7 + n * 3 + k) % len(WORDS)] for k in range(9)]
            page.insert_text((56, 64 + n * 21), " ".join(words), fontname="helv", fontsize=11)
    return bytes(doc.tobytes())


def local_options(settings: OcrSettings) -> LocalOptions:
    """The service's options from its settings (fields the engine of this tree has)."""
    s = settings
    values: dict[str, Any] = {
        "limits": Limits(s.ocr_max_pages, s.ocr_max_image_pixels),
        "dpi": s.ocr_render_dpi,
        "text_min_chars": s.ocr_text_layer_min_chars,
        "text_max_image_share": s.ocr_text_layer_max_image_share,
        "min_image_share": s.ocr_min_image_share,
        "max_images": s.ocr_max_images_per_page,
    }
    return LocalOptions(**{f.name: values[f.name] for f in dataclasses.fields(LocalOptions)})


async def lag_monitor(samples: list[float], interval: float = 0.01) -> None:
    """How late the event loop wakes up while the pool works (what probes would see)."""
    loop = asyncio.get_running_loop()
    while True:
        started = loop.time()
        await asyncio.sleep(interval)
        samples.append(max(0.0, loop.time() - started - interval))


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def read(
    settings: OcrSettings, processes: int, path: Path | None
) -> tuple[Extraction | None, float]:
    """The document at ``path`` read by a fresh pool (None: only start and stop the pool)."""
    knobs: dict[str, Any] = {"det_max_side": settings.ocr_det_max_side}
    if hasattr(settings, "ocr_runtime"):
        knobs["runtime"] = settings.ocr_runtime
    pool = CpuPool(processes, **knobs)
    pool.start()
    await pool.warm()
    engine = LocalEngine(
        pool, local_options(settings), page_timeout_s=900, metrics=ocr_metrics(Metrics())
    )
    started = time.perf_counter()
    result = None
    if path is not None:
        info = await pool.run(900, inspect, str(path), engine.options.limits)
        result = await engine.extract(Source(path, info), Caller("bench", Endpoint("", "", "")))
    elapsed = time.perf_counter() - started
    await pool.close()
    return result, elapsed


async def timed(settings: OcrSettings, processes: int, path: Path) -> dict[str, Any]:
    """pages/s and CPU s a page of reading ``path``; the pages' markdown under ``texts``."""
    before = children_cpu()
    await read(settings, processes, None)
    idle = children_cpu() - before  # starting and warming a pool
    before = children_cpu()
    load = os.getloadavg()[0]
    lags: list[float] = []
    monitor = asyncio.create_task(lag_monitor(lags))
    result, elapsed = await read(settings, processes, path)
    monitor.cancel()
    lags.sort()
    assert result is not None
    cpu = children_cpu() - before - idle if processes else None
    pages = len(result.pages)
    return {
        "pages": pages,
        "seconds": round(elapsed, 2),
        "pages_per_s": round(pages / elapsed, 3),
        "cpu_s_per_page": round(cpu / pages, 3) if cpu is not None else None,
        "load_1m": round(max(load, os.getloadavg()[0]), 1),
        "loop_lag_p99_ms": round(lags[int(len(lags) * 0.99) - 1] * 1000, 1) if lags else None,
        "texts": ["\n".join(item_markdown(item) for item in page.items) for page in result.pages],
    }


def accuracy(scans: list[scanset.ScanPage], texts: list[str]) -> dict[str, Any]:
    """CER and WER summed over pages (errors / truth length), by language and by layout."""
    sums: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    pages = []
    for scan, text in zip(scans, texts, strict=True):
        chars = edit_distance(normalise(scan.truth), normalise(text)), len(normalise(scan.truth))
        words = edit_distance(tokens(scan.truth), tokens(text)), len(tokens(scan.truth))
        for key in (scan.language, f"{scan.language}/{scan.layout}"):
            sums[key] = [a + b for a, b in zip(sums[key], (*chars, *words), strict=True)]
        pages.append(
            {
                "page": scan.number, "language": scan.language, "layout": scan.layout,
                "dpi": scan.dpi, "angle": scan.angle, "cer": round(cer(scan.truth, text), 4),
            }
        )  # fmt: skip
    table = {
        key: {"cer": round(c / max(1, n), 4), "wer": round(w / max(1, m), 4)}
        for key, (c, n, w, m) in sorted(sums.items())
    }
    return {"by_language": table, "per_page": pages}


async def main(pages: int, scan_pages: int, processes: int, seed: int) -> None:
    settings = OcrSettings()
    scans = scanset.pages(scan_pages, seed)
    report: dict[str, Any] = {
        "cores": default_processes(),
        "processes": processes,
        "settings": {
            "render_dpi": settings.ocr_render_dpi,
            "det_max_side": settings.ocr_det_max_side,
            "runtime": getattr(settings, "ocr_runtime", "onnxruntime"),
        },
    }
    with tempfile.TemporaryDirectory() as tmp:
        text_path, scan_path = Path(tmp) / "text.pdf", Path(tmp) / "scanned.pdf"
        text_path.write_bytes(text_pdf(pages))
        scan_path.write_bytes(scanset.document(scans))
        text_run = await timed(settings, processes, text_path)
        text_run.pop("texts")
        report["text_layer"] = text_run
        scan_run = await timed(settings, processes, scan_path)
        report["scanned"] = {**accuracy(scans, scan_run.pop("texts")), **scan_run}
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=48, help="text-layer pages")
    parser.add_argument("--scan-pages", type=int, default=24, help="scanned pages")
    parser.add_argument("--processes", type=int, default=default_processes())
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    asyncio.run(main(args.pages, args.scan_pages, args.processes, args.seed))
