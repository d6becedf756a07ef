"""A whole ``ragapi up`` and the fake model provider as processes, for schemathesis.

schemathesis drives its cases synchronously, so the stack it calls cannot share the test's
thread: both run as child processes, started once for the package.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.upstack import Stack, running_stack

__all__ = ["Stack"]


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("fuzz")) as running:
        yield running
