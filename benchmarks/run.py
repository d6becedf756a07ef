"""Run every benchmark in turn, each as its own process, and print their JSON.

    .venv/bin/python -m benchmarks.run [--only query,ocr] [--full] [--timeout 900]

Small sizes by default, so the whole run takes a few minutes on two cores;
``--full`` runs each bench with its own defaults instead (see benchmarks/README.md).
Each bench's progress goes to stderr as it runs; stdout gets one JSON object:
``{"bench": {"seconds": s, "result": {...}} | {"seconds": s, "error": "..."}}``.
Exits 1 when any bench failed, after running the others.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.support.servers import redis_server

ROOT = Path(__file__).resolve().parent.parent

#: Each bench's module and the arguments of its small run (its defaults under ``--full``).
SMALL: dict[str, list[str]] = {
    "models": [],
    "ocr": ["--pages", "12", "--scan-pages", "6"],
    "ingest": ["--size-mb", "50", "--docs", "30", "--latency", "0.05"],
    "query": [
        "--latency", "0.05", "--duration", "8", "--docs", "50", "--tenants", "10",
        "--modes", "naive,mix", "--clients", "8,32",
    ],
}  # fmt: skip


def last_json_object(text: str) -> dict[str, Any]:
    """The last JSON object that starts a line of ``text`` (a bench's final report)."""
    decoder = json.JSONDecoder()
    found: dict[str, Any] | None = None
    position = 0
    while position < len(text):
        if text.startswith("{", position):
            try:
                value, end = decoder.raw_decode(text, position)
            except ValueError:
                value, end = None, position
            if isinstance(value, dict):
                found, position = value, end
                continue
        newline = text.find("\n", position)
        position = len(text) if newline < 0 else newline + 1
    if found is None:
        raise ValueError("no JSON object in the output")
    return found


def _stop(process: subprocess.Popen[str]) -> None:
    """SIGTERM the bench's process group (its stack and fake provider too), then SIGKILL."""
    for sig, wait_s in ((signal.SIGTERM, 20.0), (signal.SIGKILL, 10.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(wait_s)
            return


def run_bench(name: str, args: list[str], timeout_s: float) -> dict[str, Any]:
    """One bench as ``python -m benchmarks.<name>_bench ARGS``: its report, or its error."""
    argv = [sys.executable, "-m", f"benchmarks.{name}_bench", *args]
    print(f"== {name}: {' '.join(argv[1:])}", file=sys.stderr, flush=True)
    started = time.monotonic()
    process = subprocess.Popen(
        argv, cwd=ROOT, stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        out, _ = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _stop(process)
        return _failed(started, f"did not finish in {timeout_s:.0f} s")
    except BaseException:
        _stop(process)
        raise
    sys.stderr.write(out)
    if process.returncode != 0:
        return _failed(started, f"exited with {process.returncode}")
    try:
        result = last_json_object(out)
    except ValueError as exc:
        return _failed(started, str(exc))
    return {"seconds": round(time.monotonic() - started, 1), "result": result}


def _failed(started: float, error: str) -> dict[str, Any]:
    return {"seconds": round(time.monotonic() - started, 1), "error": error}


@contextlib.contextmanager
def own_redis() -> Iterator[str]:
    """A Redis of the run's own (the models bench needs one; the machine's is left alone)."""
    with (
        tempfile.TemporaryDirectory(prefix="ragapi-bench-redis-") as work,
        redis_server(Path(work)) as url,
    ):
        yield url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", type=lambda s: s.split(","), default=list(SMALL))
    parser.add_argument("--full", action="store_true", help="each bench's own default sizes")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per bench")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.only) - set(SMALL))
    if unknown:
        parser.error(f"unknown bench {unknown}; known: {', '.join(SMALL)}")
    report: dict[str, Any] = {}
    with own_redis() as redis_url:
        for name in args.only:
            bench_args = [] if args.full else list(SMALL[name])
            if name == "models":
                bench_args += ["--redis", redis_url]
            report[name] = run_bench(name, bench_args, args.timeout)
    print(json.dumps(report, indent=2), flush=True)
    return 1 if any("error" in entry for entry in report.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
