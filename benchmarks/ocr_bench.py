"""OCR: pages/s of the local engine for text-layer PDFs and for scanned pages.

    .venv/bin/python -m benchmarks.ocr_bench [--pages 24] [--scan-pages 4] [--processes N]

Builds A4 documents in memory (PyMuPDF's ``helv``; scans are the same pages
rendered at 200 dpi, rotated 1.5 degrees, blurred, noisy and JPEG-compressed),
then reads them with the local engine exactly as the service does (the
:class:`~ragapi_ocr.cpu.CpuPool`, pages in parallel), once with the process
pool and once in threads. While it runs, a task on the event loop measures how
late it wakes up (the loop lag the service's probes would see). Prints one
JSON object. Needs no NATS, Redis or network.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import pymupdf

from ragapi_common.metrics import Metrics
from ragapi_common.tenancy import Endpoint
from ragapi_ocr.content import Extraction
from ragapi_ocr.cpu import CpuPool, default_processes
from ragapi_ocr.engines.base import Caller, Source
from ragapi_ocr.engines.local import LocalEngine
from ragapi_ocr.metrics import ocr_metrics
from ragapi_ocr.tasks import Limits, LocalOptions, inspect
from tests.ocr.documents import degrade

TEXT = (
    "the service reads every page of the document and keeps tables images and "
    "equations for the index while the event loop stays free to answer probes"
)
WORDS = TEXT.split()


def page_lines(page: int, count: int = 34) -> list[str]:
    return [
        f"{page:03d}.{n:02d} "
        + " ".join(WORDS[(page * 7 + n * 3 + k) % len(WORDS)] for k in range(9))
        for n in range(count)
    ]


def text_pdf(pages: int) -> bytes:
    doc = pymupdf.open()
    for number in range(pages):
        page = doc.new_page()  # A4
        for n, line in enumerate(page_lines(number)):
            page.insert_text((56, 64 + n * 21), line, fontname="helv", fontsize=11)
    return bytes(doc.tobytes())


def scanned_pdf(text: bytes) -> bytes:
    from PIL import Image

    source = pymupdf.open(stream=text, filetype="pdf")
    scan = pymupdf.open()
    for page in source:
        pix = page.get_pixmap(dpi=200, alpha=False)
        image = Image.frombytes("RGB", (pix.width, pix.height), pix.samples)
        target = scan.new_page(width=page.rect.width, height=page.rect.height)
        target.insert_image(target.rect, stream=degrade(image, seed=page.number or 0))
    return bytes(scan.tobytes())


async def lag_monitor(samples: list[float], interval: float = 0.01) -> None:
    loop = asyncio.get_running_loop()
    while True:
        started = loop.time()
        await asyncio.sleep(interval)
        samples.append(max(0.0, loop.time() - started - interval))


async def run(processes: int, path: Path) -> dict[str, Any]:
    pool = CpuPool(processes)
    pool.start()
    await pool.warm()
    options = LocalOptions(Limits(1000, 40_000_000), 200, 50, 0.5, 0.02, 8)
    engine = LocalEngine(pool, options, page_timeout_s=600, metrics=ocr_metrics(Metrics()))
    lags: list[float] = []
    monitor = asyncio.create_task(lag_monitor(lags))
    started = time.perf_counter()
    info = await pool.run(600, inspect, str(path), options.limits)
    result: Extraction = await engine.extract(
        Source(path, info), Caller("bench", Endpoint("", "", ""))
    )
    elapsed = time.perf_counter() - started
    monitor.cancel()
    await pool.close()
    lags.sort()
    return {
        "pool": f"{processes} processes" if processes else "threads",
        "pages": len(result.pages),
        "seconds": round(elapsed, 2),
        "pages_per_s": round(len(result.pages) / elapsed, 2),
        "loop_lag_p99_ms": round(lags[int(len(lags) * 0.99) - 1] * 1000, 1) if lags else None,
        "loop_lag_max_ms": round(lags[-1] * 1000, 1) if lags else None,
    }


async def main(pages: int, scan_pages: int, processes: int) -> None:
    text = text_pdf(pages)
    scanned = scanned_pdf(text_pdf(scan_pages))
    report: dict[str, Any] = {"cores": default_processes(), "page": "A4, 34 lines", "runs": []}
    with tempfile.TemporaryDirectory() as tmp:
        for kind, data in (("text-layer", text), ("scanned", scanned)):
            path = Path(tmp) / f"{kind}.pdf"
            path.write_bytes(data)
            for mode in (processes, 0):
                row = {"document": kind, **await run(mode, path)}
                report["runs"].append(row)
                print(json.dumps(row), flush=True)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=24, help="text-layer pages")
    parser.add_argument("--scan-pages", type=int, default=4, help="scanned pages")
    parser.add_argument("--processes", type=int, default=default_processes())
    args = parser.parse_args()
    asyncio.run(main(args.pages, args.scan_pages, args.processes))
