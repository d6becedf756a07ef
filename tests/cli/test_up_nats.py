"""``ragapi up``'s embedded NATS with its generated users: a user per service, a read-only
``debug`` for watching events, passwords kept private in the data dir and never printed."""

from __future__ import annotations

import json
import re
import stat

import httpx
import pytest

from ragapi_common.contracts import subjects
from ragapi_common.contracts.access import USERS
from tests.cli.stack import UpProcess
from tests.security.probe import connect_answer, probing

pytestmark = pytest.mark.slow


def events_url(stack: UpProcess) -> str:
    """The NATS URL the banner gives for watching events."""
    (line,) = [line for line in stack.lines if line.startswith("events: ")]
    match = re.search(r" -s (nats://\S+) --user debug ", line)
    assert match, line
    return match.group(1)


def passwords(stack: UpProcess) -> dict[str, str]:
    saved: dict[str, str] = json.loads((stack.data_dir / "nats-users.json").read_text())
    return saved


async def test_users_are_generated_private_and_never_printed(stack: UpProcess) -> None:
    saved = passwords(stack)
    assert set(saved) == set(USERS)
    assert len(set(saved.values())) == len(USERS)
    for path in (stack.data_dir / "nats-users.json", stack.data_dir / "nats/ragapi-auth.conf"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    printed = "\n".join(stack.lines)
    printed += (stack.data_dir.parent / "up.log").read_text(errors="replace")
    printed += (stack.data_dir / "nats/nats-server.log").read_text(errors="replace")
    assert [user for user, password in saved.items() if password in printed] == []


async def test_no_way_in_without_a_user(stack: UpProcess) -> None:
    url = events_url(stack)
    assert await connect_answer(url) == "-ERR 'Authorization Violation'"
    assert await connect_answer(url, user="debug", **{"pass": "guess"}) == (
        "-ERR 'Authorization Violation'"
    )


async def test_debug_watches_an_ingest_and_can_do_nothing_else(stack: UpProcess) -> None:
    tenant = {"authorization": f"Bearer {stack.banner['default tenant API key']}"}
    debug_auth = {"user": "debug", "password": passwords(stack)["debug"]}
    async with (
        probing(events_url(stack), **debug_auth) as debug,
        httpx.AsyncClient(base_url=stack.url, headers=tenant, timeout=60) as client,
    ):
        await debug.subscribe(subjects.EVENTS_ANY)
        await debug.client.flush()
        text = {"name": "bees.md", "text": "Honey bees dance to tell the hive where food is."}
        sent = await client.post("/v1/documents/text", json={"documents": [text]})
        assert sent.status_code == 202, sent.text
        doc_id = sent.json()["documents"][0]["doc_id"]

        def processed() -> bool:
            events = [m for m in debug.received if m.subject == subjects.document_events("default")]
            return any(json.loads(m.data).get("status") == "processed" for m in events)

        await debug.until(processed, within_s=120)  # harness deadline: LightRAG, busy machine
        answer = await client.post("/v1/query", json={"query": "How do bees tell where food is?"})
        assert answer.status_code == 200, answer.text
        assert doc_id in json.dumps(answer.json())

        await debug.client.publish(subjects.JOB_INGEST, b"{}")
        await debug.refused("publish", subjects.JOB_INGEST)
