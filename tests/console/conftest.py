"""The console in a real Chromium (Debian's package, driven by Playwright) against a real
``ragapi up`` with the fake model provider, both child processes started once per module.

A browser that cannot start fails the tests: ``make test`` installs chromium
(scripts/install-system-packages.sh). Screenshots go to ``$RAGAPI_CONSOLE_SCREENSHOTS``
(``make console-screenshots`` sets it to docs/console) or to a temporary folder.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from tests.support.slowness import slowness
from tests.support.upstack import Stack, running_stack

#: The longest a page may take to show what a test waits for, on a quiet machine.
WAIT_MS = 30_000


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("console")) as started:
        yield started


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.fail("no chromium on PATH: run scripts/install-system-packages.sh (make test does)")
    expect.set_options(timeout=WAIT_MS * slowness())
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    made = browser.new_context(viewport={"width": 1280, "height": 800})
    made.set_default_timeout(WAIT_MS * slowness())
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    """A page on which any JavaScript dialog (``alert(1)`` of an XSS payload, a
    ``window.confirm``) and any Content-Security-Policy violation fails the test."""
    opened = context.new_page()
    dialogs: list[str] = []

    def on_dialog(dialog: object) -> None:
        dialogs.append(getattr(dialog, "message", "?"))
        dialog.dismiss()  # type: ignore[attr-defined]

    opened.on("dialog", on_dialog)
    yield opened
    assert dialogs == [], f"a JavaScript dialog opened: {dialogs}"
    seen = opened.evaluate("document.body ? {...document.body.dataset} : {}")
    violations = seen.get("cspViolations", "0")
    assert violations == "0", f"{violations} CSP violations, the last: {seen.get('cspLast')}"


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    configured = os.environ.get("RAGAPI_CONSOLE_SCREENSHOTS")
    folder = Path(configured) if configured else tmp_path_factory.mktemp("screens")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def api(stack: Stack) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {stack.tenant_key}"}
    with httpx.Client(base_url=stack.url, headers=headers, timeout=60) as client:
        yield client
