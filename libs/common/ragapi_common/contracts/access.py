"""Who may publish and subscribe to what on NATS: one user per service, plus ``debug``.

Each service gets its own subjects (the endpoints it serves, the jobs and events it
sends, the events it follows) and what its client needs around them: its own
request inbox (``_INBOX_<user>``), JetStream's API for the two streams, its
durable consumers and their acks, the object store. ``debug`` may only watch
events (``nats sub 'ragapi.events.>'``) and publish nothing.

Both server configs are rendered from this module: ``ragapi up``'s generated one
and the Kubernetes one (``deploy/k8s/components/nats-auth/nats-auth.conf``, checked
by the deploy tests), so the permissions cannot drift from the subjects.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import subjects as s

SERVICE_USERS = ("tenants", "ingest", "ocr", "query")
DEBUG_USER = "debug"
USERS = (*SERVICE_USERS, DEBUG_USER)

_JS = "$JS.API"
_FILES = f"OBJ_{s.FILES_BUCKET}"


@dataclass(frozen=True)
class Access:
    """A user's allowed subjects; ``responds``: may answer requests it received."""

    publish: tuple[str, ...] = ()
    subscribe: tuple[str, ...] = ()
    responds: bool = False

    def __add__(self, other: Access) -> Access:
        return Access(
            self.publish + other.publish,
            self.subscribe + other.subscribe,
            self.responds or other.responds,
        )


def inbox_prefix(user: str) -> str:
    """Replies to a user's requests (its own and JetStream's) arrive under this prefix only."""
    return f"_INBOX_{user}"


def _client(user: str) -> Access:
    """Every service: its inbox, and declaring the job stream and the file bucket."""
    streams = [
        f"{_JS}.STREAM.{verb}.{stream}"
        for stream in (s.JOBS_STREAM, _FILES)
        for verb in ("CREATE", "UPDATE", "INFO")
    ]
    return Access(publish=tuple(streams), subscribe=(f"{inbox_prefix(user)}.>",))


def _serves(service: str, *endpoints: str) -> Access:
    """A ``nats.micro`` service: its endpoints and the ``$SRV`` discovery subjects."""
    discovery = [f"$SRV.{verb}" for verb in ("PING", "INFO", "STATS")]
    discovery += [f"$SRV.*.{service}", f"$SRV.*.{service}.*"]
    return Access(subscribe=(*endpoints, *discovery), responds=True)


def _works(durable: str, subject: str) -> Access:
    """A durable pull consumer on one job subject: create/bind it, fetch, ack."""
    consumer = f"{s.JOBS_STREAM}.{durable}"
    return Access(
        publish=(
            f"{_JS}.CONSUMER.CREATE.{consumer}.{subject}",
            f"{_JS}.CONSUMER.INFO.{consumer}",
            f"{_JS}.CONSUMER.MSG.NEXT.{consumer}",
            f"$JS.ACK.{consumer}.>",
        )
    )


def _files() -> Access:
    """The object store: write chunks and meta, read them through pull consumers, purge."""
    return Access(
        publish=(
            f"$O.{s.FILES_BUCKET}.>",
            f"{_JS}.STREAM.NAMES",
            f"{_JS}.STREAM.MSG.GET.{_FILES}",
            f"{_JS}.DIRECT.GET.{_FILES}.>",
            f"{_JS}.STREAM.PURGE.{_FILES}",
            f"{_JS}.CONSUMER.CREATE.{_FILES}",
            f"{_JS}.CONSUMER.CREATE.{_FILES}.>",
            f"{_JS}.CONSUMER.DELETE.{_FILES}.>",
            f"{_JS}.CONSUMER.INFO.{_FILES}.>",
            f"{_JS}.CONSUMER.MSG.NEXT.{_FILES}.>",
            f"$JS.ACK.{_FILES}.>",
            f"$JS.FC.{_FILES}.>",
        )
    )


def _tenant_client() -> Access:
    """Authenticates tenant calls: resolves keys, looks tenants up, follows tenant events."""
    return Access(publish=(s.TENANTS_RESOLVE, s.TENANTS_GET), subscribe=(s.EVENT_TENANT_ANY,))


_DOCUMENT_EVENTS = s.document_events("*")
_TASK_EVENTS = s.task_events("*")


def _tenants() -> Access:
    return _serves(s.TENANTS_SERVICE, s.TENANTS_RESOLVE, s.TENANTS_GET) + Access(
        publish=(s.EVENT_TENANT_ANY, s.JOB_PURGE)
    )


def _ingest() -> Access:
    jobs = (s.JOB_INGEST, s.JOB_OCR, s.JOB_INDEX, s.JOB_DELETE)
    events = (_DOCUMENT_EVENTS, _TASK_EVENTS)
    workers = [
        _works(durable, subject)
        for durable, subject in (
            (s.DURABLE_INGEST, s.JOB_INGEST),
            (s.DURABLE_INDEX, s.JOB_INDEX),
            (s.DURABLE_DELETE, s.JOB_DELETE),
            (s.DURABLE_PURGE, s.JOB_PURGE),
        )
    ]
    access = _tenant_client() + _files() + Access(publish=jobs + events, subscribe=events)
    for worker in workers:
        access += worker
    return access


def _ocr() -> Access:
    return (
        _tenant_client()
        + _files()
        + _serves(s.OCR_SERVICE, s.OCR_RUN)
        + _works(s.DURABLE_OCR, s.JOB_OCR)
        + Access(publish=(s.JOB_INDEX, _DOCUMENT_EVENTS))
    )


def _query() -> Access:
    return _tenant_client()


_SERVICES = {"tenants": _tenants, "ingest": _ingest, "ocr": _ocr, "query": _query}


def access(user: str) -> Access:
    """What ``user`` may do; KeyError for a user ragapi does not know."""
    if user == DEBUG_USER:
        return Access(subscribe=(s.EVENTS_ANY,))
    return _client(user) + _SERVICES[user]()
