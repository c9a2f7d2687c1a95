import os
import shutil

import pytest

from bot.testing.stack import Stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory, stack_database):
    """The whole real stack, started once per test session (Rasa takes a while to load)."""
    s = Stack(tmp_path_factory.mktemp("stack"), workers=2, database_url=stack_database())
    try:
        s.start()
    except Exception:
        s.stop()
        raise
    yield s
    s.stop()


@pytest.fixture(autouse=True)
def _clean_twilio(request):
    if "stack" in request.fixturenames:
        request.getfixturevalue("stack").twilio.reset()


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # The machine has no internet: Chromium's background connections only fail and slow it down.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium driven by Playwright (`make browser` installs it).

    Per module: Playwright's sync API keeps an asyncio loop running in the main thread while it
    is open, which would break later tests that call asyncio.run (the action tests).
    """
    from playwright.sync_api import sync_playwright

    executable = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium")
    if executable is None:
        pytest.fail("chromium is not installed; run `make browser`")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    """A fresh browser context (no cookies) at a desktop size; tests may resize it."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()
