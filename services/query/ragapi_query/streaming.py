"""The SSE body of ``POST /v1/query`` with ``"stream": true``.

Events, in order: ``references`` (once), ``delta`` ``{"text"}`` (any number),
then ``done`` ``{"mode", "llm"}`` or ``error`` (the contract's error body).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from ragapi_common.errors import RagapiError
from ragapi_common.sse import encode_event

from .models import ReferenceOut
from .runner import LiveAnswer

log = logging.getLogger(__name__)


def references_payload(live: LiveAnswer, include: bool) -> list[dict[str, str]]:
    if not include:
        return []
    return [ReferenceOut.of(ref).model_dump() for ref in live.references]


async def query_events(live: LiveAnswer, *, include_references: bool) -> AsyncIterator[bytes]:
    """The events of one streamed answer; failures end the stream with an ``error`` event."""
    references = references_payload(live, include_references)
    yield encode_event({"references": references}, event="references")
    try:
        async for text in live.deltas:
            yield encode_event({"text": text}, event="delta")
    except RagapiError as exc:
        yield encode_event(exc.to_body(), event="error")
        return
    except Exception:
        log.exception("streamed answer failed")
        yield encode_event(RagapiError("internal error (a bug: see logs)").to_body(), event="error")
        return
    yield encode_event({"mode": live.mode, "llm": live.llm}, event="done")
