"""The OCR service running once for the whole package (its process pool is slow to start)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from ragapi_ocr.app import create_app
from ragapi_ocr.settings import OcrSettings

# The ingest stack's fixtures, for the end-to-end test (upload -> OCR -> index).
from tests.ingest.conftest import fake, make_ingest  # noqa: F401
from tests.ocr.fake_vllm import FakeVllm
from tests.support.apps import ADMIN_TOKEN, SECRET_KEY, running


def ocr_settings(nats_url: str, redis_url: str, data_dir: str) -> OcrSettings:
    return OcrSettings(
        nats_url=nats_url,
        redis_url=redis_url,
        data_dir=data_dir,
        admin_token=ADMIN_TOKEN,
        secret_key=SECRET_KEY,
        log_json=False,
        ocr_processes=2,
        ocr_page_timeout_s=60,
        deepseek_timeout_s=3,
        deepseek_retries=2,
        deepseek_breaker_failures=2,
        deepseek_breaker_reset_s=60,
    )


@pytest.fixture(scope="package")
async def ocr(
    nats_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the running OCR app (its worker and NATS endpoint are live too)."""
    settings = ocr_settings(nats_url, redis_url, str(tmp_path_factory.mktemp("ocr-data")))
    async with running(create_app(settings)) as client:
        yield client


@pytest.fixture
async def vllm() -> AsyncIterator[FakeVllm]:
    """A fresh fake DeepSeek-OCR endpoint (its own port, so its own breaker)."""
    async with FakeVllm() as server:
        yield server
