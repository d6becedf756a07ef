"""One ``ragapi up`` child process shared by the tests of this folder that only read or add."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.cli.stack import UpProcess


@pytest.fixture(scope="session")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[UpProcess]:
    up = UpProcess(tmp_path_factory.mktemp("up") / "data")
    await up.start(expect_key=True)
    yield up
    assert await up.stop() == 0
