"""NATS users and permissions as ``ragapi up`` generates them (contracts/access.py): nobody
gets in without a password, ``debug`` only watches events, and a service cannot listen to,
answer for, or take the jobs of another."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import nats
import nats.errors
import pytest

from ragapi_common.bus import Bus
from ragapi_common.contracts import subjects
from ragapi_common.contracts.payloads import TenantEvent
from tests.security.conftest import SPY, SecureNats
from tests.security.probe import Probe, connect_answer, probing


@pytest.fixture
async def spy(secure_nats: SecureNats) -> AsyncIterator[Bus]:
    bus = await Bus.connect(secure_nats.url, name="spy", **secure_nats.auth(SPY))
    yield bus
    await bus.close()


async def nothing_arrives(probe: Probe, spy: Bus, subject: str) -> None:
    """A message published on ``subject`` now does not reach ``probe``. Both round trips
    order it: the spy's flush means the server routed it, the probe's that it was read."""
    await spy.client.publish(subject, b"{}")
    await spy.client.flush()
    await probe.client.flush()
    # A message read is handed to its callback by a task of nats-py's: give it the moment
    # it needs, or the assertion below could pass before a leaked message is recorded.
    await asyncio.sleep(0.2)
    assert [msg.subject for msg in probe.received] == []


async def test_no_password_no_connection(secure_nats: SecureNats) -> None:
    assert await connect_answer(secure_nats.url) == "-ERR 'Authorization Violation'"
    wrong = await connect_answer(secure_nats.url, user="query", **{"pass": "guess"})
    assert wrong == "-ERR 'Authorization Violation'"
    right = await connect_answer(
        secure_nats.url, user="query", **{"pass": secure_nats.passwords["query"]}
    )
    assert right == "PONG"


async def test_debug_watches_events_only(secure_nats: SecureNats, spy: Bus) -> None:
    async with probing(secure_nats.url, **secure_nats.auth("debug")) as debug:
        await debug.subscribe("ragapi.events.>")
        await debug.client.flush()
        await spy.publish(subjects.EVENT_TENANT_UPDATED, TenantEvent(tenant_id="acme"))
        await spy.client.flush()
        # nats-py hands a message to its callback from a task of its own: wait for it.
        await debug.until(lambda: bool(debug.received))
        assert [msg.subject for msg in debug.received] == [subjects.EVENT_TENANT_UPDATED]

        for subject in (">", subjects.JOBS_SUBJECTS, "_INBOX.>", "_INBOX_tenants.>"):
            await debug.subscribe(subject)
            await debug.refused("subscription", subject)


async def test_debug_cannot_ask_the_tenants_service(secure_nats: SecureNats, spy: Bus) -> None:
    async with (
        probing(secure_nats.url, **secure_nats.auth("tenants")) as tenants,
        probing(secure_nats.url, **secure_nats.auth("debug")) as debug,
    ):
        await tenants.subscribe(subjects.TENANTS_GET)  # stands in for the service
        await tenants.client.flush()
        with pytest.raises(nats.errors.TimeoutError):
            await debug.client.request(subjects.TENANTS_GET, b'{"tenant_id":"acme"}', timeout=1)
        await debug.refused("publish", subjects.TENANTS_GET)
        await tenants.client.flush()
        await asyncio.sleep(0.2)  # as in nothing_arrives
        assert tenants.received == []


async def test_debug_cannot_submit_jobs(secure_nats: SecureNats, spy: Bus) -> None:
    before = (await spy.js.stream_info(subjects.JOBS_STREAM)).state.messages
    async with probing(secure_nats.url, **secure_nats.auth("debug")) as debug:
        for subject in (subjects.JOB_INGEST, subjects.JOB_PURGE):
            await debug.client.publish(subject, b'{"tenant_id":"acme"}')
            await debug.refused("publish", subject)
    assert (await spy.js.stream_info(subjects.JOBS_STREAM)).state.messages == before


@pytest.mark.parametrize(
    ("user", "subject"),
    [
        ("query", subjects.TENANTS_RESOLVE),  # the tenants service's endpoint
        ("ingest", subjects.OCR_RUN),  # the OCR service's endpoint
        ("query", subjects.JOB_OCR),  # jobs travel to their worker only
        ("ocr", subjects.JOB_PURGE),
        ("query", "_INBOX_ingest.>"),  # another service's replies
        ("tenants", subjects.document_events("acme")),  # events it does not follow
    ],
)
async def test_a_service_cannot_listen_to_another_s_subjects(
    secure_nats: SecureNats, spy: Bus, user: str, subject: str
) -> None:
    async with probing(secure_nats.url, **secure_nats.auth(user)) as probe:
        await probe.subscribe(subject)
        await probe.refused("subscription", subject)
        await nothing_arrives(probe, spy, subject.replace(">", "x"))


@pytest.mark.parametrize(
    ("user", "subject"),
    [
        ("query", subjects.JOB_INDEX),  # query submits no jobs
        ("ocr", subjects.EVENT_TENANT_DELETED),  # only the tenants service speaks for tenants
        # taking over the OCR service's work queue through JetStream's API
        ("ingest", f"$JS.API.CONSUMER.CREATE.RAGAPI_JOBS.ocr.{subjects.JOB_OCR}"),
        ("ingest", f"$JS.API.CONSUMER.MSG.NEXT.RAGAPI_JOBS.{subjects.DURABLE_OCR}"),
        ("query", "$JS.API.STREAM.MSG.GET.RAGAPI_JOBS"),  # reading queued jobs
        ("query", "$O.ragapi-files.M.x"),  # query writes no files
    ],
)
async def test_a_service_cannot_publish_for_another(
    secure_nats: SecureNats, user: str, subject: str
) -> None:
    async with probing(secure_nats.url, **secure_nats.auth(user)) as probe:
        await probe.client.publish(subject, b"{}")
        await probe.refused("publish", subject)
