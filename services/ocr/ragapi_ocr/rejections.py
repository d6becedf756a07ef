"""Why a file cannot be OCR'd, as a plain picklable exception and its contract error.

The CPU work runs in pool processes; :class:`Rejected` crosses the process
boundary intact (its args are plain strings), then :mod:`.pipeline` turns it into
the HTTP answer or the job's verdict.
"""

from __future__ import annotations

from typing import Literal

Reason = Literal[
    "empty", "corrupt", "encrypted", "too_large", "too_many_pages", "too_many_pixels", "unsupported"
]


class Rejected(Exception):
    """The file is unusable for a reason retrying cannot change."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(reason, message)
        self.reason: Reason = reason
        self.message = message

    def __str__(self) -> str:
        return self.message
