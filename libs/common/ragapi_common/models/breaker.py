"""Circuit breakers, one per provider endpoint: fail fast while an endpoint is down.

A breaker counts *calls* that failed after all their retries (a 5xx storm,
refused connections, timeouts), not single attempts: a provider that fails a
third of its attempts still serves every call after a retry and must not trip
it, while a dead one trips it after ``failure_threshold`` calls in a row.

    closed --(threshold failed calls in a row)--> open
    open --(reset_after_s elapsed)--> half-open: one probe call goes through
    half-open --(probe succeeds)--> closed;  --(probe fails)--> open again
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable

from ragapi_common.errors import CircuitOpen


class State(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """The breaker of one endpoint; ``clock`` is injectable for tests."""

    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = 5,
        reset_after_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[str, State], None] | None = None,
    ) -> None:
        self.name = name
        self.failure_threshold = failure_threshold
        self.reset_after_s = reset_after_s
        self._clock = clock
        self._on_change = on_change
        self._state = State.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False

    @property
    def state(self) -> State:
        """The state now (an open breaker past its reset time reads half-open)."""
        if self._state is State.OPEN and self._retry_in() <= 0:
            return State.HALF_OPEN
        return self._state

    def before_call(self) -> bool:
        """Admit a call or raise :class:`CircuitOpen`; True when the call is the probe."""
        if self._state is State.OPEN:
            if self._retry_in() > 0:
                raise self._open_error()
            self._set(State.HALF_OPEN)
        if self._state is State.HALF_OPEN:
            if self._probing:
                raise self._open_error()
            self._probing = True
            return True
        return False

    def raise_if_open(self) -> None:
        """Between retries: stop at once if other calls have opened the breaker."""
        if self._state is State.OPEN:
            raise self._open_error()

    def record(self, ok: bool | None, *, probe: bool) -> None:
        """Settle a call: True succeeded, False failed, None says nothing of health."""
        if probe:
            self._probing = False
        if ok is None:
            return
        if ok:
            self._failures = 0
            self._set(State.CLOSED)
            return
        self._failures += 1
        if probe or self._failures >= self.failure_threshold:
            self._opened_at = self._clock()
            self._set(State.OPEN)

    def _retry_in(self) -> float:
        return self._opened_at + self.reset_after_s - self._clock()

    def _open_error(self) -> CircuitOpen:
        retry_after = max(1.0, self._retry_in())
        return CircuitOpen(
            f"{self.name} failed repeatedly; calls fail fast for {retry_after:.0f} s",
            retry_after=retry_after,
        )

    def _set(self, state: State) -> None:
        if state is not self._state:
            self._state = state
            if self._on_change is not None:
                self._on_change(self.name, state)


class Breakers:
    """One breaker per endpoint (keyed by base URL), created on first use."""

    def __init__(
        self,
        *,
        failure_threshold: int = 5,
        reset_after_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failure_threshold = failure_threshold
        self.reset_after_s = reset_after_s
        self._clock = clock
        self._breakers: dict[str, CircuitBreaker] = {}
        self._listeners: list[Callable[[str, State], None]] = []

    def for_endpoint(self, base_url: str) -> CircuitBreaker:
        breaker = self._breakers.get(base_url)
        if breaker is None:
            breaker = CircuitBreaker(
                base_url,
                failure_threshold=self.failure_threshold,
                reset_after_s=self.reset_after_s,
                clock=self._clock,
                on_change=self._changed,
            )
            self._breakers[base_url] = breaker
        return breaker

    def on_change(self, listener: Callable[[str, State], None]) -> None:
        """Call ``listener(endpoint, state)`` on every transition (metrics, logs)."""
        if listener not in self._listeners:
            self._listeners.append(listener)

    def states(self) -> dict[str, str]:
        """Endpoint -> ``closed | open | half_open``, for ``/readyz`` details."""
        return {name: breaker.state.value for name, breaker in self._breakers.items()}

    def _changed(self, name: str, state: State) -> None:
        for listener in self._listeners:
            listener(name, state)
