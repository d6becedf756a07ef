"""A plain text progress bar on stderr (redrawn in place on a terminal, lines otherwise)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    """``label [#####.....] done/total suffix``; redraws at most every ``interval`` s."""

    def __init__(
        self, label: str, total: int, *, unit: str = "", stream: TextIO | None = None
    ) -> None:
        self.label = label
        self.total = max(total, 0)
        self.unit = unit
        self.stream = stream or sys.stderr
        self.done = 0
        self.suffix = ""
        self.interval = 0.1 if self.stream.isatty() else 2.0
        self._drawn_at = 0.0
        self._last = ""

    def update(self, done: int, *, total: int | None = None, suffix: str = "") -> None:
        self.done = done
        self.total = self.total if total is None else total
        self.suffix = suffix
        self._draw(force=False)

    def advance(self, amount: int) -> None:
        self.update(self.done + amount, suffix=self.suffix)

    def close(self) -> None:
        self._draw(force=True)
        if self.stream.isatty():
            self.stream.write("\n")
            self.stream.flush()

    def render(self, width: int = 30) -> str:
        fraction = min(1.0, self.done / self.total) if self.total else 0.0
        filled = int(fraction * width)
        bar = "#" * filled + "." * (width - filled)
        counts = f"{_human(self.done, self.unit)}/{_human(self.total, self.unit)}"
        return f"{self.label} [{bar}] {counts} {self.suffix}".rstrip()

    def _draw(self, *, force: bool) -> None:
        now = time.monotonic()
        line = self.render()
        if line == self._last or (not force and now - self._drawn_at < self.interval):
            return
        self._drawn_at, self._last = now, line
        if self.stream.isatty():
            self.stream.write("\r\x1b[2K" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def _human(value: int, unit: str) -> str:
    if unit != "B":
        return str(value)
    amount = float(value)
    for suffix in ("B", "KB", "MB", "GB"):
        if amount < 1024 or suffix == "GB":
            return f"{amount:.0f}{suffix}" if suffix == "B" else f"{amount:.1f}{suffix}"
        amount /= 1024
    return f"{amount:.1f}GB"
