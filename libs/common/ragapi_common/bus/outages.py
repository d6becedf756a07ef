"""What counts as a NATS outage, and failing fast while there is no connection.

nats-py keeps reconnecting by itself and, meanwhile, queues what is published: a
request made then waits its whole timeout for an answer that cannot come.
:func:`require_connection` raises at once instead, with nats-py's own error.
:class:`ConnectionLog` says when a connection is lost and back, in the log and to its
listeners (:meth:`..Bus.on_connection`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import nats.errors
import nats.js.errors
from nats.aio.client import Client

log = logging.getLogger(__name__)

#: Told ``False`` when the connection is lost, ``True`` when it is back.
ConnectionListener = Callable[[bool], None]

#: The connection is closed, reconnecting or draining; a request or JetStream call got no
#: answer in time or no responder; the JetStream API says it is unavailable.
OUTAGES: tuple[type[Exception], ...] = (
    nats.errors.ConnectionClosedError,
    nats.errors.ConnectionReconnectingError,
    nats.errors.ConnectionDrainingError,
    nats.errors.StaleConnectionError,
    nats.errors.NoServersError,
    nats.errors.OutboundBufferLimitError,
    nats.errors.TimeoutError,
    nats.errors.NoRespondersError,
    nats.js.errors.NoStreamResponseError,
    nats.js.errors.ServiceUnavailableError,
)


#: JetStream's errors that may mean its store is out of disk (told apart by :func:`store_full`).
STORE_ERRORS: tuple[type[Exception], ...] = (nats.js.errors.APIError,)
#: JetStream's "insufficient storage resources available".
_STORAGE_EXCEEDED = 10047


def store_full(error: BaseException) -> bool:
    """Whether JetStream refused a write because its disk (or storage limit) is full."""
    if not isinstance(error, nats.js.errors.APIError):
        return False
    description = (error.description or "").lower()
    return error.err_code == _STORAGE_EXCEEDED or "no space left" in description


def require_connection(client: Client) -> None:
    """Raise ConnectionReconnectingError (an outage) unless ``client`` is connected now."""
    if client.is_closed:
        raise nats.errors.ConnectionClosedError
    if not client.is_connected:
        raise nats.errors.ConnectionReconnectingError


class ConnectionLog:
    """A line when the connection is lost and one when it is back; each failed reconnection
    attempt at debug level (nats-py would log every one with its stack trace); each change
    told to the listeners."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.client: Client | None = None
        self.listeners: list[ConnectionListener] = []

    def callbacks(self) -> dict[str, Callable[..., Awaitable[None]]]:
        return {
            "error_cb": self.error,
            "disconnected_cb": self.disconnected,
            "reconnected_cb": self.reconnected,
        }

    async def error(self, exc: Exception) -> None:
        level = logging.DEBUG if isinstance(exc, OSError) else logging.WARNING
        log.log(level, "NATS (%s): %s: %s", self.name, type(exc).__name__, exc)

    async def disconnected(self) -> None:
        if self.client is not None and self.client.is_reconnecting:  # not a close
            log.warning("NATS connection of %s lost; reconnecting", self.name)
            self._tell(False)

    async def reconnected(self) -> None:
        log.warning("NATS connection of %s is back", self.name)
        self._tell(True)

    def _tell(self, connected: bool) -> None:
        for listener in self.listeners:
            listener(connected)
