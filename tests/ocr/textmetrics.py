"""Comparing OCR output with the truth: NFKC, no whitespace, character error rate."""

from __future__ import annotations

import unicodedata


def normalise(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split())


def edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b))
            )
        previous = current
    return previous[-1]


def cer(truth: str, output: str) -> float:
    """Edits needed to turn the output into the truth, per character of the truth."""
    expected, got = normalise(truth), normalise(output)
    return edit_distance(expected, got) / max(1, len(expected))
