"""The NATS adapter: the only package of ragapi that imports nats-py.

:class:`Bus` gives the services four things, all with typed JSON payloads:

- events: :meth:`Bus.publish` / :meth:`Bus.subscribe` on core subjects;
- request/reply: :meth:`Bus.serve` registers ``nats.micro`` endpoints (listed by
  ``nats micro ls``), :meth:`Bus.request` calls one and raises the remote's
  :class:`~ragapi_common.errors.RagapiError` again on this side;
- work queues on JetStream: :meth:`Bus.submit` and :class:`.jobs.Worker`;
- files in the JetStream object store: :class:`.files.FileStore`, streamed in chunks.

While the connection is down, what needs an answer from the server fails at once
(:func:`.outages.require_connection`); :data:`OUTAGES` lists nats-py's errors that
mean an outage, and ``unavailable`` (given by the process, knowing every dependency)
turns an outage into the 503 a request/reply endpoint answers and makes workers wait
for the dependency instead of spending a delivery.

When tracing is on, messages carry the W3C trace context of their sender in their
headers and each delivery is handled in a span that continues it (:mod:`..tracing`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import nats
import nats.errors
import nats.js.api
import nats.js.errors
import nats.micro
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.micro.request import Request
from nats.micro.service import Service
from pydantic import BaseModel, ValidationError

from ragapi_common import tracing
from ragapi_common.contracts import subjects
from ragapi_common.contracts.access import inbox_prefix
from ragapi_common.errors import DependencyUnavailable, RagapiError, ValidationFailed, from_code

from . import jobs
from .files import FileStore
from .jobs import JobContext, PermanentJobError, Unavailable, Worker, WorkerSpec
from .outages import OUTAGES, ConnectionListener, ConnectionLog, require_connection

__all__ = [
    "OUTAGES",
    "Bus",
    "ConnectionListener",
    "Endpoint",
    "FileStore",
    "JobContext",
    "PermanentJobError",
    "Unavailable",
    "Worker",
    "WorkerSpec",
]

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)
R = TypeVar("R", bound=BaseModel)
_ERROR_CODE_HEADER = "Nats-Service-Error-Code"


@dataclass(frozen=True)
class Endpoint:
    """One request/reply endpoint: its subject, request model and async handler."""

    name: str
    subject: str
    request: type[BaseModel]
    handler: Callable[[Any], Awaitable[BaseModel]]


def encode(payload: BaseModel) -> bytes:
    """Payloads travel as compact JSON."""
    return payload.model_dump_json(exclude_none=True).encode()


class Bus:
    """A NATS connection with JetStream, shared by everything in one process."""

    def __init__(
        self,
        client: Client,
        *,
        replicas: int = 1,
        timeout_s: float = 2.0,
        unavailable: Unavailable | None = None,
        connection: ConnectionLog | None = None,
    ) -> None:
        self.client = client
        self.connection = connection or ConnectionLog("")
        # Every JetStream API call, publish acknowledgement and object-store call.
        self.js: JetStreamContext = client.jetstream(timeout=timeout_s)
        self.files = FileStore(self.js, subjects.FILES_BUCKET, client, replicas)
        self.unavailable: Unavailable = unavailable or jobs.nats_unavailable
        self._replicas = replicas
        self._services: list[Service] = []

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        name: str,
        user: str = "",
        password: str = "",
        timeout_s: float = 2.0,
        unavailable: Unavailable | None = None,
        replicas: int = 1,
    ) -> Bus:
        """Connect (retrying while the server comes up) and declare the streams.

        With a ``user``, replies come to that user's own inbox prefix, the only one
        its NATS permissions let it subscribe to (:mod:`..contracts.access`).
        ``timeout_s`` bounds each JetStream call (API, publish acknowledgement, object
        store); ``unavailable`` says which errors are outages of any dependency (NATS's
        own when not given); ``replicas``: the servers that keep each job and file
        (JetStream stream replicas, at most the cluster's size).
        """
        auth: dict[str, Any] = {}
        if user:
            auth = {"user": user, "password": password, "inbox_prefix": inbox_prefix(user)}
        logs = ConnectionLog(name)
        try:
            client = await nats.connect(
                url,
                name=name,
                connect_timeout=2,
                max_reconnect_attempts=-1,
                reconnect_time_wait=0.5,
                allow_reconnect=True,
                **auth,
                **logs.callbacks(),
            )
        except (OSError, nats.errors.Error) as exc:
            where = _without_credentials(url)
            raise DependencyUnavailable(f"NATS at {where} is unreachable: {exc}") from exc
        logs.client = client
        bus = cls(
            client, replicas=replicas, timeout_s=timeout_s, unavailable=unavailable, connection=logs
        )
        await bus.ensure_streams()
        return bus

    @property
    def connected(self) -> bool:
        return bool(self.client.is_connected)

    def on_connection(self, listener: ConnectionListener) -> None:
        """Call ``listener(False)`` when the connection is lost, ``listener(True)`` when it is
        back (after nats-py has resubscribed); what was published meanwhile is not replayed."""
        self.connection.listeners.append(listener)

    async def ensure_streams(self) -> None:
        """Declare the job stream and the file bucket; idempotent."""
        config = nats.js.api.StreamConfig(
            name=subjects.JOBS_STREAM,
            subjects=[subjects.JOBS_SUBJECTS],
            retention=nats.js.api.RetentionPolicy.WORK_QUEUE,
            storage=nats.js.api.StorageType.FILE,
            num_replicas=self._replicas,
            duplicate_window=120.0,
        )
        try:
            await self.js.add_stream(config)
        except nats.js.errors.BadRequestError:
            await self.js.update_stream(config)
        await self.files.ensure()

    async def close(self) -> None:
        """Stop micro services, then drain: in-flight handlers finish, nothing new arrives."""
        for service in self._services:
            await service.stop()
        self._services.clear()
        if not self.client.is_closed:
            try:
                await self.client.drain()
            except (nats.errors.Error, OSError) as exc:
                log.warning("drain failed: %s", exc)
                await self.client.close()

    # --- events ----------------------------------------------------------------------------
    async def publish(self, subject: str, payload: BaseModel) -> None:
        """Fire an event on a core subject (in the current trace, if any)."""
        await self.client.publish(subject, encode(payload), headers=tracing.headers() or None)

    async def subscribe(
        self,
        subject: str,
        model: type[M],
        handler: Callable[[str, M], Awaitable[None]],
    ) -> Subscription:
        """Call ``handler(subject, payload)`` for each well-formed event; log the rest."""

        name = f"process {subject}"

        async def on_message(msg: Msg) -> None:
            with tracing.incoming(name, "consumer", msg.headers, _messaging(msg.subject)):
                await handle(msg)

        async def handle(msg: Msg) -> None:
            try:
                payload = model.model_validate_json(msg.data)
            except ValidationError:
                log.warning("dropping malformed event", extra={"subject": msg.subject})
                return
            try:
                await handler(msg.subject, payload)
            except Exception:
                log.exception("event handler failed", extra={"subject": msg.subject})

        return await self.client.subscribe(subject, cb=on_message)

    # --- request/reply ---------------------------------------------------------------------
    async def request(
        self, subject: str, payload: BaseModel, reply: type[R], *, within_s: float = 5.0
    ) -> R:
        """Call an endpoint; remote errors come back as the same RagapiError subclass.

        ``within_s`` is the answering service's budget, not NATS's: the tenants service
        shares its event loop with LightRAG under ``ragapi up`` (0.5 s was measured too
        short under load, decision 0700). Without a connection it fails at once.
        """
        require_connection(self.client)
        with tracing.outgoing(f"send {subject}", "client", _messaging(subject)) as span:
            try:
                msg = await self.client.request(
                    subject, encode(payload), timeout=within_s, headers=span.headers() or None
                )
            except nats.errors.NoRespondersError as exc:
                raise DependencyUnavailable(f"no service answers {subject}", retry_after=1) from exc
            except nats.errors.TimeoutError as exc:
                raise DependencyUnavailable(
                    f"{subject} did not answer in time", retry_after=1
                ) from exc
            if msg.headers and _ERROR_CODE_HEADER in msg.headers:
                raise _remote_error(msg.data)
            return reply.model_validate_json(msg.data)

    async def serve(
        self, name: str, version: str, endpoints: list[Endpoint], *, description: str = ""
    ) -> None:
        """Register endpoints as one ``nats.micro`` service (queue group: ``name``)."""
        service = await nats.micro.add_service(
            self.client, name=name, version=version, description=description, queue_group=name
        )
        for endpoint in endpoints:
            await service.add_endpoint(
                name=endpoint.name,
                subject=endpoint.subject,
                handler=_micro_handler(endpoint, self.unavailable),
            )
        self._services.append(service)

    # --- work queues -----------------------------------------------------------------------
    async def submit(self, subject: str, payload: BaseModel, *, msg_id: str) -> None:
        """Queue a job once: the same ``msg_id`` within two minutes is dropped as a duplicate."""
        require_connection(self.client)
        await jobs.submit(self.js, subject, payload, msg_id)

    async def start_worker(self, spec: WorkerSpec[Any]) -> Worker[Any]:
        """Bind a durable pull consumer and start working through its jobs."""
        worker: Worker[Any] = Worker(self.js, spec, self.client, self.unavailable)
        await worker.start()
        return worker


def _without_credentials(url: str) -> str:
    """``nats://user:secret@host:4222`` -> ``nats://host:4222``: credentials are never logged."""
    return re.sub(r"//[^/@,]*@", "//", url)


def _messaging(subject: str) -> tracing.Attributes:
    return {"messaging.system": "nats", "messaging.destination.name": subject}


def _micro_handler(
    endpoint: Endpoint, unavailable: Unavailable
) -> Callable[[Request], Awaitable[None]]:
    name, attributes = f"process {endpoint.subject}", _messaging(endpoint.subject)

    async def handle(request: Request) -> None:
        with tracing.incoming(name, "server", request.headers, attributes) as span:
            await respond(request, span)

    async def respond(request: Request, span: tracing.Span) -> None:
        try:
            answer = await _answer(endpoint, request.data, unavailable)
        except RagapiError as exc:
            span.set("error.type", exc.code)
            if exc.status >= 500:
                span.fail(exc.message)
            body = {**exc.to_body(), "retry_after": exc.retry_after}
            await request.respond_error(
                str(exc.status), exc.message, data=json.dumps(body).encode()
            )
            return
        except Exception as exc:
            log.exception("endpoint %s failed", endpoint.subject)
            span.fail(repr(exc))
            await request.respond_error("500", repr(exc), data=b"{}")
            return
        await request.respond(encode(answer))

    pending: set[asyncio.Task[None]] = set()

    async def dispatch(request: Request) -> None:
        # nats-py runs one subscription's callbacks one after another; answer each request
        # in its own task so one slow lookup does not queue every other caller behind it.
        task = asyncio.create_task(handle(request))
        pending.add(task)
        task.add_done_callback(pending.discard)

    return dispatch


async def _answer(endpoint: Endpoint, data: bytes, unavailable: Unavailable) -> BaseModel:
    """The endpoint's answer; a dependency's outage is raised as the 503 it means."""
    try:
        payload = endpoint.request.model_validate_json(data)
    except ValidationError as exc:
        raise ValidationFailed.from_pydantic(exc) from exc
    try:
        return await endpoint.handler(payload)
    except Exception as exc:
        outage = unavailable(exc)
        if outage is None:
            raise
        raise outage from exc


def _remote_error(data: bytes) -> RagapiError:
    try:
        body: Mapping[str, Any] = json.loads(data)
        error: Mapping[str, Any] = body["error"]
        rebuilt = from_code(str(error["code"]), str(error["message"]), error.get("details"))
        rebuilt.retry_after = body.get("retry_after")  # a 503 or 429 says when to come back
        return rebuilt
    except (ValueError, KeyError, TypeError):
        return RagapiError("a remote service failed")
