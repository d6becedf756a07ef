"""pytest plugin: the ``reliability`` fixture, one row of ``docs/reliability.md`` per test.

A fault test fills in its :class:`~tests.support.faults.Row`; when the test ends the row
is written as JSON, with the test's outcome, to ``$RAGAPI_RELIABILITY_DIR`` (default
``.pytest_cache/reliability``), one file per test so xdist workers never share one.
``scripts/reliability_table.py`` renders the table from that directory.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from tests.support.faults import Row

_OUTCOMES = pytest.StashKey[list[str]]()


def record_dir(config: pytest.Config) -> Path:
    configured = os.environ.get("RAGAPI_RELIABILITY_DIR")
    return Path(configured) if configured else config.rootpath / ".pytest_cache" / "reliability"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call" or report.failed:
        item.stash.setdefault(_OUTCOMES, []).append(report.outcome)
    return report


@pytest.fixture
def reliability(request: pytest.FixtureRequest) -> Iterator[Row]:
    """The test's row of the reliability table; fill it in as the test goes."""
    row = Row(fault=request.node.name, test=request.node.nodeid)
    yield row
    outcomes = request.node.stash.get(_OUTCOMES, [])
    row.outcome = "failed" if "failed" in outcomes else (outcomes[-1] if outcomes else "error")
    directory = record_dir(request.config)
    directory.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid) + ".json"
    (directory / name).write_text(json.dumps(row.to_json(), indent=2) + "\n")
