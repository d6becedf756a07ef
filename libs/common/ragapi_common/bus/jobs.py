"""JetStream work-queue consumers: durable pull, ack after success, nak with backoff,
term on poison, a max-deliver bound with a last-chance hook, graceful hand-back.

A job that fails because a dependency is down (Redis, NATS, PostgreSQL: whatever the
process's ``unavailable`` says) is not failed: the worker waits, backing off, and runs
it again in the same delivery, so an outage longer than the retry schedule does not
exhaust the job's deliveries and fail the document.

A job carries its submitter's trace context in its headers; each delivery is
worked in a consumer span that continues it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import nats.errors
import nats.js.api
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from pydantic import BaseModel, ValidationError

from ragapi_common import tracing
from ragapi_common.contracts import subjects
from ragapi_common.errors import DependencyUnavailable
from ragapi_common.shutdown import HAND_BACK_SHARE, Shutdown

from .outages import OUTAGES

log = logging.getLogger(__name__)
J = TypeVar("J", bound=BaseModel)

#: The 503 an error means when it is a dependency's outage, else None.
Unavailable = Callable[[BaseException], DependencyUnavailable | None]


def nats_unavailable(error: BaseException) -> DependencyUnavailable | None:
    """The default classifier: NATS's own outages only."""
    if isinstance(error, OUTAGES):
        return DependencyUnavailable("NATS is unavailable", retry_after=1)
    return None


def _outage_pauses(first_s: float = 0.25, cap_s: float = 5.0) -> Iterator[float]:
    """0.25, 0.5, 1, 2, 4, 5, 5, ... seconds between runs of a job during an outage."""
    for attempt in itertools.count():
        yield min(cap_s, first_s * 2**attempt)


class PermanentJobError(Exception):
    """Retrying cannot help (bad input, unreadable file): the job is terminated at once."""


@dataclass(frozen=True)
class JobContext:
    """Where a delivery stands: ``attempt`` counts from 1."""

    subject: str
    attempt: int
    max_deliver: int

    @property
    def last_attempt(self) -> bool:
        return self.attempt >= self.max_deliver


@dataclass(frozen=True)
class WorkerSpec(Generic[J]):
    """A durable consumer on one job subject and the coroutine that does each job.

    ``on_exhausted(job, reason)`` runs once when a job is given up (poison, or
    the last delivery failed), so the owner can mark the document failed.
    """

    durable: str
    subject: str
    model: type[J]
    handle: Callable[[J, JobContext], Awaitable[None]]
    on_exhausted: Callable[[J, str], Awaitable[None]] | None = None
    concurrency: int = 4
    max_deliver: int = 5
    backoff_s: Sequence[float] = field(default=(1.0, 5.0, 15.0, 30.0, 60.0))
    ack_wait_s: float = 60.0
    #: How long one delivery waits out a dependency's outage before it counts as failed.
    outage_patience_s: float = 600.0


def encode_job(payload: BaseModel) -> bytes:
    return payload.model_dump_json(exclude_none=True).encode()


async def submit(js: JetStreamContext, subject: str, payload: BaseModel, msg_id: str) -> None:
    """Publish a job; ``msg_id`` makes a retried publish of the same job a no-op."""
    with tracing.outgoing(f"publish {subject}", "producer", _messaging(subject)) as span:
        headers = {"Nats-Msg-Id": msg_id, **span.headers()}
        await js.publish(subject, encode_job(payload), stream=subjects.JOBS_STREAM, headers=headers)


def _messaging(subject: str) -> tracing.Attributes:
    return {"messaging.system": "nats", "messaging.destination.name": subject}


#: The connection is closed or closing for good: fetching again cannot succeed.
_CONNECTION_GONE = (nats.errors.ConnectionClosedError, nats.errors.ConnectionDrainingError)


class Worker(Generic[J]):
    """Runs a :class:`WorkerSpec` until :meth:`stop` (or its connection closes): fetch,
    handle, settle."""

    def __init__(
        self,
        js: JetStreamContext,
        spec: WorkerSpec[J],
        client: Client,
        unavailable: Unavailable = nats_unavailable,
    ) -> None:
        self.js = js
        self.spec = spec
        self.client = client
        self.unavailable = unavailable
        self._slots = asyncio.Semaphore(spec.concurrency)
        self._inflight: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def start(self) -> None:
        spec = self.spec
        config = nats.js.api.ConsumerConfig(
            durable_name=spec.durable,
            filter_subject=spec.subject,
            ack_policy=nats.js.api.AckPolicy.EXPLICIT,
            ack_wait=spec.ack_wait_s,
            max_deliver=spec.max_deliver,
            max_ack_pending=max(spec.concurrency * 4, 16),
        )
        self._sub = await self.js.pull_subscribe(
            spec.subject, durable=spec.durable, stream=subjects.JOBS_STREAM, config=config
        )
        self._loop_task = asyncio.create_task(self._run(), name=f"worker:{spec.durable}")

    @property
    def fetching(self) -> bool:
        """The fetch loop runs (it ends on :meth:`stop` or when the connection closed)."""
        return self._loop_task is not None and not self._loop_task.done()

    @property
    def busy(self) -> int:
        return len(self._inflight)

    async def backlog(self) -> int:
        """Jobs waiting for this consumer plus those delivered and not yet settled."""
        info = await self._sub.consumer_info()
        return int(info.num_pending or 0) + int(info.num_ack_pending or 0)

    async def _run(self) -> None:
        while not self._stopping.is_set():
            await self._slots.acquire()
            if self._stopping.is_set():
                self._slots.release()
                return
            if self.client.is_closed:
                self._slots.release()
                log.warning("%s stops fetching: its NATS connection is closed", self.spec.durable)
                return
            if not self.client.is_connected:
                # No pull requests queued up for the reconnection: wait for it.
                self._slots.release()
                await asyncio.sleep(0.25)
                continue
            try:
                msgs = await self._sub.fetch(1, timeout=1.0)
            except (nats.errors.TimeoutError, TimeoutError):
                self._slots.release()
                continue
            except _CONNECTION_GONE as exc:
                self._slots.release()
                log.warning("%s stops fetching: %s", self.spec.durable, exc)
                return
            except (nats.errors.Error, nats.js.errors.Error, OSError) as exc:
                self._slots.release()
                log.warning("fetch on %s failed: %s", self.spec.durable, exc)
                await asyncio.sleep(0.5)
                continue
            for msg in msgs:
                task = asyncio.create_task(self._settle(msg))
                self._inflight.add(task)
                task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        self._slots.release()

    async def _settle(self, msg: Msg) -> None:
        attributes = {**_messaging(msg.subject), "messaging.consumer.group.name": self.spec.durable}
        with tracing.incoming(
            f"process {msg.subject}", "consumer", msg.headers, attributes
        ) as span:
            await self._work(msg, span)

    async def _work(self, msg: Msg, span: tracing.Span) -> None:
        spec = self.spec
        attempt = msg.metadata.num_delivered
        ctx = JobContext(subject=msg.subject, attempt=attempt, max_deliver=spec.max_deliver)
        span.set("ragapi.job.attempt", attempt)
        try:
            job = spec.model.model_validate_json(msg.data)
        except ValidationError as exc:
            log.error("poison job on %s: %s", msg.subject, exc)
            span.fail("poison job")
            await msg.term()
            return
        _describe(span, job)
        heartbeat = asyncio.create_task(self._keep_alive(msg))
        try:
            await self._handle(job, ctx)
        except asyncio.CancelledError:
            # Shutting down: hand the job back for another replica at once.
            await _quietly(self._hand_back(msg, ctx))
            raise
        except PermanentJobError as exc:
            span.fail(str(exc))
            await self._give_up(msg, job, str(exc))
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
            span.fail(reason)
            if ctx.last_attempt:
                await self._give_up(msg, job, reason)
            else:
                delay = spec.backoff_s[min(attempt - 1, len(spec.backoff_s) - 1)]
                log.warning("job failed (attempt %d), retry in %.1fs: %s", attempt, delay, reason)
                await _quietly(msg.nak(delay=delay))
        else:
            await _quietly(msg.ack())
        finally:
            heartbeat.cancel()

    async def _hand_back(self, msg: Msg, ctx: JobContext) -> None:
        """Nak it for a redelivery; on its last delivery (JetStream would not deliver it
        again) queue it anew and ack this one: a shutdown is not the job's failure."""
        if not ctx.last_attempt:
            await msg.nak()
            return
        headers = dict(msg.headers or {})
        first_id = headers.get("Nats-Msg-Id", msg.subject)
        headers["Nats-Msg-Id"] = f"{first_id}:back-{msg.metadata.sequence.stream}"
        await self.js.publish(msg.subject, msg.data, stream=subjects.JOBS_STREAM, headers=headers)
        await msg.ack()

    async def _handle(self, job: J, ctx: JobContext) -> None:
        """Run the job; while a dependency is down, wait and run it again (up to the spec's
        patience, and not once the worker stops: then the job goes back to the queue)."""
        loop = asyncio.get_running_loop()
        give_up_at = loop.time() + self.spec.outage_patience_s
        for pause in _outage_pauses():
            try:
                await self.spec.handle(job, ctx)
                return
            except Exception as exc:
                if self.unavailable(exc) is None or loop.time() + pause > give_up_at:
                    raise
                log.warning(
                    "job on %s waits for a dependency (%s: %s); again in %.2fs",
                    ctx.subject, type(exc).__name__, exc, pause,
                )  # fmt: skip
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), pause)
            if self._stopping.is_set():
                raise asyncio.CancelledError  # handed back at once, as at any stop

    async def _give_up(self, msg: Msg, job: J, reason: str) -> None:
        log.error("job given up on %s: %s", msg.subject, reason)
        if self.spec.on_exhausted is not None:
            try:
                await self.spec.on_exhausted(job, reason)
            except Exception:
                log.exception("on_exhausted failed; the job will be redelivered")
                await _quietly(msg.nak(delay=self.spec.backoff_s[-1]))
                return
        await _quietly(msg.term())

    async def _keep_alive(self, msg: Msg) -> None:
        """Long jobs (OCR, LLM extraction) tell JetStream they are still alive."""
        while True:
            await asyncio.sleep(self.spec.ack_wait_s / 3)
            await _quietly(msg.in_progress())

    async def stop_fetching(self) -> None:
        """Take no new job; the jobs in flight go on (and are settled as usual)."""
        self._stopping.set()
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        # The inbox goes too: the server drops the pull request the loop left waiting,
        # which would otherwise take (and lose until the ack wait) a job handed back now.
        with contextlib.suppress(nats.errors.Error):
            await self._sub.unsubscribe()

    async def stop(self, shutdown: Shutdown) -> None:
        """Stop fetching; jobs in flight get the work share of the grace period, then are
        cancelled, which hands them back to JetStream (nak) for a redelivery."""
        await self.stop_fetching()
        pending = await shutdown.finish_within(self._inflight)
        for task in pending:
            task.cancel()  # the job hands itself back and stops what it started
        if pending:
            wait_s = max(shutdown.left(HAND_BACK_SHARE), 1.0)
            _, pending = await asyncio.wait(pending, timeout=wait_s)
        for task in pending:
            task.cancel()  # again: it stops waiting for what it started to stop
        if pending:
            _, stuck = await asyncio.wait(pending, timeout=1.0)
            if stuck:
                log.error("%d job(s) of %s ignore cancellation", len(stuck), self.spec.durable)


def _describe(span: tracing.Span, job: BaseModel) -> None:
    """Whose job it is, for finding a tenant's or a task's traces."""
    for field_name in ("tenant_id", "task_id", "doc_id"):
        value = getattr(job, field_name, None)
        if isinstance(value, str):
            span.set(f"ragapi.{field_name}", value)


async def _quietly(settle: Awaitable[None]) -> None:
    """Settling a message can fail on a dropped connection; redelivery covers it."""
    try:
        await settle
    except (nats.errors.Error, OSError) as exc:
        log.warning("could not settle a job message: %s", exc)
