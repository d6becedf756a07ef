"""Comparing OCR output with the truth: character and word error rates.

Both are edit distances over the truth's length after NFKC. CER ignores
whitespace (layout decides where OCR puts spaces and line breaks, not the
reader). WER counts tokens: whitespace-separated words, except that each CJK
character is a token of its own (Chinese has no spaces between words, so a
segmenter would be measured instead of the OCR).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

import numpy as np


def normalise(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split())


def edit_distance(a: Sequence[object], b: Sequence[object]) -> int:
    """Levenshtein distance, one NumPy pass per element of ``a``."""
    if not a or not b:
        return max(len(a), len(b))
    codes: dict[object, int] = {}
    left = np.array([codes.setdefault(x, len(codes)) for x in a])
    right = np.array([codes.setdefault(x, len(codes)) for x in b])
    columns = np.arange(len(right) + 1)
    previous = columns.copy()
    for i, symbol in enumerate(left, 1):
        substitute = previous[:-1] + (right != symbol)
        best = np.minimum(previous[1:] + 1, substitute)
        # current[j] = min(best[j], current[j-1] + 1): a running minimum of best[k] - k, plus j.
        shifted = np.concatenate(([i], best)) - columns
        previous = np.minimum.accumulate(shifted) + columns
    return int(previous[-1])


def cer(truth: str, output: str) -> float:
    """Edits needed to turn the output into the truth, per character of the truth."""
    expected, got = normalise(truth), normalise(output)
    return edit_distance(expected, got) / max(1, len(expected))


def tokens(text: str) -> list[str]:
    """Words, with every CJK character a word of its own."""
    out: list[str] = []
    for word in unicodedata.normalize("NFKC", text).split():
        latin = ""
        for char in word:
            if unicodedata.east_asian_width(char) in ("W", "F"):
                if latin:
                    out.append(latin)
                    latin = ""
                out.append(char)
            else:
                latin += char
        if latin:
            out.append(latin)
    return out


def wer(truth: str, output: str) -> float:
    """Edits needed to turn the output's tokens into the truth's, per token of the truth."""
    expected = tokens(truth)
    return edit_distance(expected, tokens(output)) / max(1, len(expected))
