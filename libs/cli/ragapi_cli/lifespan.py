"""Drive one ASGI app's lifespan from the outside, as a server would.

The gateway uses this to start the service apps it hosts: the app's lifespan
runs in a task of its own and talks through the ASGI lifespan messages, so
any ASGI app works, not only Starlette ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from starlette.types import ASGIApp, Message

log = logging.getLogger(__name__)


class LifespanFailed(RuntimeError):
    """An app reported ``lifespan.startup.failed`` (or ``shutdown.failed``)."""


class LifespanRunner:
    """Start-up and shutdown of one app; :attr:`state` is what its lifespan yielded."""

    def __init__(self, app: ASGIApp, name: str) -> None:
        self.app = app
        self.name = name
        self.state: dict[str, Any] = {}
        self._to_app: asyncio.Queue[Message] = asyncio.Queue()
        self._from_app: asyncio.Queue[Message] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._supported = True

    async def startup(self) -> None:
        """Return once the app started; raise :class:`LifespanFailed` if it did not."""
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": self.state}
        self._task = asyncio.create_task(self._run(scope), name=f"lifespan-{self.name}")
        await self._to_app.put({"type": "lifespan.startup"})
        reply = await self._reply("startup")
        if reply["type"] != "lifespan.startup.complete":
            await self._finish()
            raise LifespanFailed(f"{self.name} failed to start: {_reason(reply)}")

    async def shutdown(self) -> None:
        """Ask the app to shut down and wait for it; a no-op if it never started."""
        if self._task is None:
            return
        try:
            if self._supported and not self._task.done():
                await self._to_app.put({"type": "lifespan.shutdown"})
                reply = await self._reply("shutdown")
                if reply["type"] != "lifespan.shutdown.complete":
                    raise LifespanFailed(f"{self.name} failed to stop: {_reason(reply)}")
        finally:
            await self._finish()

    async def _run(self, scope: dict[str, Any]) -> None:
        try:
            await self.app(scope, self._to_app.get, self._from_app.put)
        except BaseException as exc:
            # An app without lifespan support raises on the scope; one that crashes
            # mid-way must not leave the waiting side blocked forever.
            message = f"{type(exc).__name__}: {exc}"
            await self._from_app.put({"type": "lifespan.crashed", "message": message})
            if isinstance(exc, asyncio.CancelledError):
                raise
        else:
            await self._from_app.put({"type": "lifespan.returned"})

    async def _reply(self, phase: str) -> Message:
        message = await self._from_app.get()
        if message["type"] == "lifespan.returned":
            # The app returned without answering: it does not speak lifespan at all.
            self._supported = False
            return {"type": f"lifespan.{phase}.complete"}
        return message

    async def _finish(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        if not task.done():
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _reason(reply: Message) -> str:
    """The last line of what the app said (Starlette sends a whole traceback)."""
    message = str(reply.get("message", "")).strip()
    if "\n" in message:
        log.error("lifespan failure:\n%s", message)
    return message.splitlines()[-1] if message else "no reason given"
