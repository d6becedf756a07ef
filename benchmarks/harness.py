"""What every load bench shares: child processes, readiness, CPU and memory of process trees.

CPU is counted per process tree (user + system seconds of a process and its
descendants alive at the time), split where it matters: ``python`` processes
(the server itself, its OCR pool) apart from the rest (``ragapi up``'s embedded
nats-server and redis-server), so a figure says which it includes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import aiohttp
import psutil

from tests.support.servers import free_port, wait_port

__all__ = ["Cpu", "free_port", "load_average", "memory", "process", "wait_http", "wait_port"]


@contextlib.contextmanager
def process(
    args: list[str], env: dict[str, str], log: Path, cwd: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """``args`` running with its output in ``log``; SIGTERM, then SIGKILL, when done."""
    with log.open("wb") as out:
        proc = subprocess.Popen(args, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


async def wait_http(
    url: str, within_s: float = 180.0, proc: subprocess.Popen[bytes] | None = None
) -> None:
    """Until ``GET url`` answers 200 (``proc`` exiting first is an error)."""
    deadline = time.monotonic() + within_s
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}")
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with session.get(url) as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.25)
    raise TimeoutError(f"{url} never answered 200")


def _is_python(proc: psutil.Process) -> bool:
    return "python" in proc.name()


def _tree_cpu(root: psutil.Process, keep: Callable[[psutil.Process], bool]) -> float:
    total = 0.0
    for proc in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            if proc is root or keep(proc):
                total += sum(proc.cpu_times()[:2])
    return total


class Cpu:
    """Cumulative CPU seconds of named process groups, read together."""

    def __init__(self) -> None:
        self._groups: dict[str, Callable[[], float]] = {}

    def add(self, name: str, root: psutil.Process, which: str = "python") -> None:
        """``which``: ``"self"`` (the process alone), ``"python"`` (it and its Python
        descendants) or ``"tree"`` (every descendant, nats-server and redis-server too)."""
        keep: Callable[[psutil.Process], bool] = {
            "self": lambda _p: False,
            "python": _is_python,
            "tree": lambda _p: True,
        }[which]
        self._groups[name] = lambda: _tree_cpu(root, keep)

    def read(self) -> dict[str, float]:
        return {name: read() for name, read in self._groups.items()}


def load_average() -> list[float]:
    """The machine's 1, 5 and 15 minute load averages (2 cores: above 2 means queueing)."""
    return [round(value, 2) for value in os.getloadavg()]


def memory(server: psutil.Process) -> dict[str, float]:
    """RSS in MB: the process, with its Python children, and its other children apart.

    Shared pages count once per process (RSS).
    """
    main, python, others = server.memory_info().rss, 0, 0
    for child in server.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            rss = child.memory_info().rss
            if _is_python(child):
                python += rss
            else:
                others += rss
    mb = 2**20
    return {
        "main_mb": round(main / mb, 1),
        "tree_mb": round((main + python) / mb, 1),
        "other_children_mb": round(others / mb, 1),
    }
