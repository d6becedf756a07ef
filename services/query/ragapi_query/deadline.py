"""A request's deadline: one instant on the loop's clock that every step of the query shares."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from ragapi_common.errors import DeadlineExceeded


class Deadline:
    """Fixed when the request arrives; :meth:`guard` cancels work that outlives it."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = asyncio.get_running_loop().time() + seconds

    @asynccontextmanager
    async def guard(self) -> AsyncIterator[None]:
        """Cancel the body at the deadline and raise 504 instead of its TimeoutError."""
        timeout = asyncio.timeout_at(self.at)
        try:
            async with timeout:
                yield
        except TimeoutError as exc:
            if timeout.expired():
                raise DeadlineExceeded(
                    f"the query did not finish within {self.seconds:g} s"
                ) from exc
            raise
