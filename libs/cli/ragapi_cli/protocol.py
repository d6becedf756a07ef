"""uvicorn's httptools protocol with read timeouts: a client that stalls mid-request is cut off.

uvicorn closes idle keep-alive connections but waits for ever for a request's head or body,
so slow-loris clients (a header byte now and then) hold sockets and buffers indefinitely.
Here, as nginx's ``client_header_timeout`` and ``client_body_timeout`` do:

- a request's head (from the connection's start, or the first byte after a response) must
  be complete within ``read_timeout_s``, however it trickles in;
- a body may not go silent for ``read_timeout_s`` between two reads. Time in which the server
  itself paused reading (flow control: the app is slow to take the body) does not count.

The connection is closed; a handler reading the body sees a disconnect. httptools (C) parses,
not h11 (pure Python): the parser's callbacks say where a request stands (decision 0505).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger(__name__)


class TimedHttpToolsProtocol(HttpToolsProtocol):
    """:class:`HttpToolsProtocol` closing connections whose client stalls mid-request."""

    read_timeout_s = 30.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._last_read = 0.0
        self._head_since: float | None = None
        self._in_body = False
        self._watch: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._last_read = self._head_since = self.loop.time()
        self._watch = self.loop.call_later(self.read_timeout_s / 4, self._check)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._last_read = self.loop.time()
        if self._head_since is None and self._between_requests():
            self._head_since = self._last_read
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self._head_since = None  # the head is in: the body's timeout applies now
        self._in_body = True
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_body = False
        super().on_message_complete()

    def _between_requests(self) -> bool:
        """No request in progress: the next thing on the wire is a request's head."""
        return not self._in_body and (self.cycle is None or self.cycle.response_complete)

    def _stalled(self, now: float) -> str:
        if self._between_requests():
            if self.timeout_keep_alive_task is not None or self._head_since is None:
                return ""  # uvicorn's keep-alive timeout covers the wait for a next request
            late = now - self._head_since >= self.read_timeout_s
            return "the request head is not complete" if late else ""
        if self._in_body and not self.flow.read_paused:
            late = now - self._last_read >= self.read_timeout_s
            return "the request body stalled" if late else ""
        self._last_read = now  # our turn, or our pause: the client owes nothing now
        return ""

    def _check(self) -> None:
        if reason := self._stalled(self.loop.time()):
            log.info("closing a connection after %.0f s: %s", self.read_timeout_s, reason)
            self._watch = None
            self.transport.close()
            return
        self._watch = self.loop.call_later(self.read_timeout_s / 4, self._check)


def timed_protocol(read_timeout_s: float) -> type[TimedHttpToolsProtocol]:
    """The protocol class for uvicorn's ``http=`` with this read timeout."""
    return type(
        "TimedHttpToolsProtocol", (TimedHttpToolsProtocol,), {"read_timeout_s": read_timeout_s}
    )
