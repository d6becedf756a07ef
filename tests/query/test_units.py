"""The query service's pure pieces: admission bounds, chat message mapping, SSE encoding."""

from __future__ import annotations

import pytest

from ragapi_common.errors import DependencyUnavailable, RateLimited, ValidationFailed
from ragapi_common.rag.api import Reference
from ragapi_common.sse import encode_event
from ragapi_query.chat import requested_mode, sources_footer, split_messages
from ragapi_query.chat_models import ChatMessage
from ragapi_query.limits import Admission


def test_admission_bounds_per_tenant_then_per_process() -> None:
    admission = Admission(per_tenant=2, total=3, retry_after_s=1.5)
    first, _second = admission.acquire("a"), admission.acquire("a")
    with pytest.raises(RateLimited) as tenant_full:
        admission.acquire("a")
    assert tenant_full.value.headers() == {"Retry-After": "2"}
    admission.acquire("b")
    with pytest.raises(DependencyUnavailable) as process_full:
        admission.acquire("c")
    assert process_full.value.status == 503
    first.release()
    first.release()  # idempotent: frees one slot, not two
    assert admission.in_flight == 2
    admission.acquire("c")
    with pytest.raises(DependencyUnavailable):
        admission.acquire("d")


def test_last_user_message_is_the_query_and_earlier_turns_the_history() -> None:
    messages = [
        ChatMessage(role="system", content="be brief"),
        ChatMessage(role="user", content="who founded acme?"),
        ChatMessage(role="assistant", content="Ada."),
        ChatMessage(role="tool", content="ignored"),
        ChatMessage(role="user", content=[{"type": "text", "text": "when?"}]),
    ]
    query, history = split_messages(messages)
    assert query == "when?"
    assert [(t.role, t.content) for t in history] == [
        ("system", "be brief"),
        ("user", "who founded acme?"),
        ("assistant", "Ada."),
    ]


def test_a_conversation_without_a_user_message_is_invalid() -> None:
    with pytest.raises(ValidationFailed):
        split_messages([ChatMessage(role="system", content="hi")])
    with pytest.raises(ValidationFailed):
        requested_mode("gpt-4o")
    assert requested_mode("rag-naive") == "naive"
    assert requested_mode("rag") is None


def test_sources_footer_numbers_each_document_once() -> None:
    refs = [
        Reference("d1", "one.txt", "a"),
        Reference("d2", "two.txt", "b"),
        Reference("d1", "one.txt", "c"),
    ]
    assert sources_footer(refs) == "\n\nSources:\n[1] one.txt (d1)\n[2] two.txt (d2)"
    assert sources_footer([]) == ""


def test_sse_event_encoding_splits_multiline_data() -> None:
    assert encode_event({"text": "a"}, event="delta") == b'event: delta\ndata: {"text":"a"}\n\n'
    assert encode_event("x\ny") == b"data: x\ndata: y\n\n"
