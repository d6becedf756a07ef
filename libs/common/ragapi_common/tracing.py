"""OpenTelemetry traces: with :mod:`.tracing_clients`, the only modules that import opentelemetry.

Tracing is off unless the environment names an exporter, with the standard
variables (``OTEL_TRACES_EXPORTER=otlp``, or an ``OTEL_EXPORTER_OTLP_ENDPOINT``
/ ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``; ``OTEL_TRACES_EXPORTER=none`` or
``OTEL_SDK_DISABLED=true`` turn it off again). On, one tracer provider batches
spans to OTLP over HTTP from the SDK's own export thread; the exporter and the
batch processor read their other ``OTEL_*`` variables themselves. Off,
opentelemetry is not even imported and each function here is one check of a
module global (docs/decisions/0010-tracing.md).

Spans carry the service they were made for as their resource's
``service.name`` (``ragapi-ingest``, ``ragapi-query``, ...), also when
``ragapi up`` runs every service in one process: :func:`serving` names the
service of the current context (a service's lifespan, so its workers and
subscriptions inherit it; each HTTP request); one tracer provider per service
name shares one batch processor. ``OTEL_SERVICE_NAME`` overrides them all.

Callers see three shapes: :func:`incoming` continues the trace of a request or
message's headers, :func:`outgoing` starts a child of the current span and
gives the headers that carry it on, and :func:`current_ids` names the span of
the moment for log lines.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Span as OtelSpan
    from opentelemetry.trace import Tracer
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

__all__ = [
    "Attributes",
    "Span",
    "configure",
    "current_ids",
    "enabled",
    "flush",
    "headers",
    "incoming",
    "outgoing",
    "reset_serving",
    "service_tracer",
    "serving",
    "shutdown",
    "untraced",
]

Attributes = Mapping[str, str | int | float | bool]
_ON = {"1", "true", "yes", "on"}


class Span:
    """A started span; with tracing off, an empty one whose methods do nothing."""

    __slots__ = ("_span",)

    def __init__(self, span: OtelSpan | None = None) -> None:
        self._span = span

    def set(self, key: str, value: str | int | float | bool) -> None:
        if self._span is not None:
            self._span.set_attribute(key, value)

    def rename(self, name: str) -> None:
        if self._span is not None:
            self._span.update_name(name)

    def fail(self, description: str) -> None:
        """Mark the span failed without an exception passing through it."""
        if self._span is not None:
            from opentelemetry.trace import Status, StatusCode

            self._span.set_status(Status(StatusCode.ERROR, description))

    def headers(self) -> dict[str, str]:
        """W3C ``traceparent`` (and ``tracestate``) naming this span; empty when off."""
        if self._span is None or _state is None:
            return {}
        from opentelemetry.trace import set_span_in_context

        carrier: dict[str, str] = {}
        _state.propagator.inject(carrier, set_span_in_context(self._span))
        return carrier


class _State:
    """The SDK objects of installed tracing: one processor, a provider per service name."""

    def __init__(self, processor: SpanProcessor, default: str) -> None:
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        self.processor = processor
        self.default = default
        self.providers: dict[str, TracerProvider] = {}
        self.tracers: dict[str, Tracer] = {}
        # W3C trace context directly: opentelemetry.propagate would scan every installed
        # distribution's entry points at import time to find the configured propagators.
        self.propagator: TraceContextTextMapPropagator = TraceContextTextMapPropagator()

    def tracer(self) -> Tracer:
        """The tracer of the current context's service."""
        name = os.environ.get("OTEL_SERVICE_NAME") or _service.get() or self.default
        tracer = self.tracers.get(name)
        if tracer is None:
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider

            # Resource.create adds OTEL_RESOURCE_ATTRIBUTES.
            provider = TracerProvider(resource=Resource.create({"service.name": name}))
            provider.add_span_processor(self.processor)
            self.providers[name] = provider
            tracer = self.tracers[name] = provider.get_tracer("ragapi")
        return tracer


_state: _State | None = None
_service: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "ragapi_trace_service", default=None
)


def serving(service: str) -> contextvars.Token[str | None]:
    """Name the spans made from here on in this context (and tasks it starts) for ``service``."""
    return _service.set(service if service.startswith("ragapi") else f"ragapi-{service}")


_OFF: contextlib.nullcontext[Span] = contextlib.nullcontext(Span())


def reset_serving(token: contextvars.Token[str | None]) -> None:
    _service.reset(token)


def configure(service: str, *, exporter: SpanExporter | None = None) -> bool:
    """Install tracing for ``service`` with ``exporter``, or with the one the environment
    names; True if tracing is on. Once on, later calls change nothing."""
    global _state
    if _state is not None:
        return True
    if exporter is None:
        exporter = _exporter_from(os.environ)
        if exporter is None:
            return False
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    # Spans end on the event loop: the processor only queues them there; encoding and the
    # blocking HTTP post happen in its own export thread.
    _state = _State(BatchSpanProcessor(exporter), default=service)
    return True


def _exporter_from(environ: Mapping[str, str]) -> SpanExporter | None:
    """The OTLP/HTTP exporter when the standard variables ask for one, else None."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() in _ON:
        return None
    # The SDK's own default is "otlp"; ragapi's is off unless an exporter or endpoint is set.
    named = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    endpoint = environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or environ.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    if named not in ("", "otlp"):
        if named != "none":
            raise ValueError(f"OTEL_TRACES_EXPORTER={named!r}: ragapi exports only 'otlp'")
        return None
    if not named and not endpoint:
        return None
    protocol = environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or environ.get(
        "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"
    )
    if protocol != "http/protobuf":
        raise ValueError(f"OTLP protocol {protocol!r}: ragapi exports with 'http/protobuf'")
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()  # endpoint, headers, timeout: from the environment


def shutdown() -> None:
    """Export what is queued and turn tracing off. Blocks (up to 30 s): not on the loop."""
    global _state
    state, _state = _state, None
    if state is not None:
        state.processor.shutdown()


def flush(timeout_s: float = 30.0) -> bool:
    """Export what is queued now. Blocks: not on the loop."""
    return _state is None or _state.processor.force_flush(int(timeout_s * 1000))


def enabled() -> bool:
    return _state is not None


def service_tracer() -> Tracer | None:
    """The tracer of the current context's service (for :mod:`.tracing_clients`); None: off."""
    return None if _state is None else _state.tracer()


def incoming(
    name: str,
    kind: Literal["server", "consumer"],
    carrier: Mapping[str, str] | None,
    attributes: Attributes | None = None,
) -> contextlib.AbstractContextManager[Span]:
    """A span for a request or message that arrived with ``carrier`` (its headers): it
    continues the trace they name, or starts one; never the ambient span of this task."""
    if _state is None:
        return _OFF
    return _started(_state, name, kind, dict(carrier or {}), attributes)


def untraced() -> contextlib.AbstractContextManager[Span]:
    """No span: for work not worth tracing even when tracing is on."""
    return _OFF


def outgoing(
    name: str, kind: Literal["client", "producer"], attributes: Attributes | None = None
) -> contextlib.AbstractContextManager[Span]:
    """A child of the current span for a call or message to send; ``span.headers()``
    are the headers that carry it."""
    if _state is None:
        return _OFF
    return _started(_state, name, kind, None, attributes)


@contextlib.contextmanager
def _started(
    state: _State,
    name: str,
    kind: str,
    carrier: dict[str, str] | None,
    attributes: Attributes | None,
) -> Iterator[Span]:
    from opentelemetry.trace import SpanKind

    parent = None if carrier is None else state.propagator.extract(carrier)
    with state.tracer().start_as_current_span(
        name, context=parent, kind=SpanKind[kind.upper()], attributes=attributes
    ) as span:
        yield Span(span)


def headers() -> dict[str, str]:
    """The W3C trace context of the current span, to send along; empty when there is none."""
    if _state is None:
        return {}
    carrier: dict[str, str] = {}
    _state.propagator.inject(carrier)
    return carrier


def current_ids() -> tuple[str, str] | None:
    """``(trace_id, span_id)`` in hex of the current span, if tracing is on and one is."""
    if _state is None:
        return None
    from opentelemetry.trace import get_current_span

    context = get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return f"{context.trace_id:032x}", f"{context.span_id:016x}"
