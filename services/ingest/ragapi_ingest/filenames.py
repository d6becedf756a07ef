"""Client filenames are data, never paths: what is kept of them and how."""

from __future__ import annotations

import unicodedata

_FALLBACK = "upload"
#: Bidirectional overrides can make ``exe.pdf`` display as ``fdp.exe``; BOMs are noise.
_INVISIBLE = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff")


def _kept(ch: str) -> bool:
    return unicodedata.category(ch) not in ("Cc", "Cs") and ch not in _INVISIBLE


def clean_filename(raw: str, *, max_chars: int) -> str:
    """A display name: the last path segment, no control characters, any Unicode kept.

    NFC-normalised so the same name typed on two systems compares equal; cut to
    ``max_chars`` keeping the extension when there is room for it.
    """
    name = unicodedata.normalize("NFC", raw)
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if _kept(ch))
    name = name.strip().strip(".").strip()
    if not name:
        return _FALLBACK
    return _truncate(name, max_chars)


def _truncate(name: str, max_chars: int) -> str:
    if len(name) <= max_chars:
        return name
    stem, dot, suffix = name.rpartition(".")
    if dot and stem and len(suffix) < max_chars // 4:
        return stem[: max_chars - len(suffix) - 1] + "." + suffix
    return name[:max_chars]
