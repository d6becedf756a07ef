"""Request bodies read within a cap and JSON parsed within a depth, strictly validated.

:func:`ragapi_common.web.read_json` is the one way a service reads a JSON body; it uses:

- :func:`read_capped`: a ``Content-Length`` over the cap is refused (413) before a byte of
  the body is read; a body without one (chunked) is read until it passes the cap, then
  refused. A refused body holds at most the cap plus one chunk in memory.
- :func:`parse_json`: pydantic-core's parser (jiter) builds and validates the model in one
  pass, O(n), and stops at its recursion limit (about 200 levels of nesting): deeper JSON
  is a 400, never a ``RecursionError``. Validation is strict: ``"yes"`` is not a boolean
  and ``"5"`` not an integer (422 naming the field).
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from ragapi_common.errors import BadRequest, PayloadTooLarge, ValidationFailed

M = TypeVar("M", bound=BaseModel)

#: Bodies up to this size are parsed on the loop; larger ones in a thread.
PARSE_INLINE_BYTES = 256 * 1024

#: What jiter says when JSON nests deeper than its recursion limit.
_TOO_DEEP = "recursion limit exceeded"


def declared_length(request: Request, limit: int) -> None:
    """413 at once when Content-Length already says the body is over ``limit``."""
    raw = request.headers.get("content-length")
    if raw is not None and raw.strip().isdigit() and int(raw) > limit:
        raise PayloadTooLarge(f"the body ({int(raw)} bytes) is over the limit of {limit} bytes")


async def read_capped(request: Request, limit: int) -> bytes:
    """The whole body, refused (413) as soon as it passes ``limit`` bytes. A client that goes
    away raises :class:`~starlette.requests.ClientDisconnect` (logged as a disconnect)."""
    declared_length(request, limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the body is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(raw: bytes, model: type[M], *, what: str = "the body") -> M:
    """``raw`` as ``model``: 400 if it is not JSON or nests too deep, 422 listing bad fields."""
    try:
        return model.model_validate_json(raw, strict=True)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        malformed = [error for error in errors if error["type"] == "json_invalid"]
        if not malformed:
            raise ValidationFailed.from_pydantic(exc) from exc
        reason = str((malformed[0].get("ctx") or {}).get("error", "malformed"))
        if _TOO_DEEP in reason:
            raise BadRequest(f"{what} nests too deep: JSON may nest up to 200 levels") from exc
        raise BadRequest(f"{what} is not valid JSON: {reason}") from exc
