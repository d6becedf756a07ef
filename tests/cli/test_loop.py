"""The process's event loop: uvloop by default, asyncio's on request, nothing else."""

from __future__ import annotations

import asyncio

import pytest
import uvloop
from pydantic import ValidationError

from ragapi_cli import loop
from ragapi_cli.settings import CliSettings


async def _loop_type() -> type[asyncio.AbstractEventLoop]:
    return type(asyncio.get_running_loop())


def test_the_default_loop_is_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RAGAPI_EVENT_LOOP", raising=False)
    assert CliSettings().event_loop == "uvloop"
    assert loop.loop_factory("uvloop") is uvloop.new_event_loop
    assert loop.run(_loop_type()) is uvloop.Loop


def test_asyncio_on_request_and_a_typo_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGAPI_EVENT_LOOP", "asyncio")
    assert CliSettings().event_loop == "asyncio"
    assert loop.loop_factory("asyncio") is None
    monkeypatch.setenv("RAGAPI_EVENT_LOOP", "uv-loop")
    with pytest.raises(ValidationError, match="event_loop"):
        CliSettings()
