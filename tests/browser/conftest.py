"""Real Chromium through Playwright against pytest-django's live_server. Never runs `playwright install`."""

import os
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("OCBRIDGE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture(scope="module")
def browser():
    """One Chromium per test module (module scope: the async-unsafe switch below ends with the module)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium package to run browser tests")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the playwright Python package is not installed")
    # Playwright's sync API runs an event loop in this thread; Django would then refuse DB calls from tests.
    # Set only while browser tests run, so the rest of the suite keeps Django's async-safety check.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as pw:
            b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            yield b
            b.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


_served: set[str] = set()


def _wait_until_serving(url: str) -> None:
    """The live server's first answer (URLconf, every view module and template loaded on first use) takes seconds
    on a loaded 2-core machine: waited for here, once, so no test spends its 10 s page budget on it."""
    import httpx

    if url not in _served:
        httpx.get(url + "/login/", timeout=180).raise_for_status()
        _served.add(url)


@pytest.fixture
def page(browser, live_server):
    """A fresh context per test; console errors and uncaught exceptions are collected in page.errors."""
    _wait_until_serving(live_server.url)
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(10_000)
    pg.errors = []
    pg.on("console", lambda msg: pg.errors.append(f"console: {msg.text}") if msg.type == "error" else None)
    pg.on("pageerror", lambda exc: pg.errors.append(f"pageerror: {exc}"))
    pg.base = live_server.url
    yield pg
    context.close()


@pytest.fixture
def owner(transactional_db, settings):
    """The owner's account, with a fast password hash: the real one (PBKDF2, ~0.25 s of CPU per login) took most of
    the login's 10 s budget on a loaded 2-core machine and failed the first click of a test now and then."""
    from django.contrib.auth.models import User

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return User.objects.create_user("owner", password="pw-owner-123", is_staff=True, is_superuser=True)


@pytest.fixture
def logged_in(page, owner):
    page.goto(page.base + "/login/")
    page.fill("input[name=username]", "owner")
    page.fill("input[name=password]", "pw-owner-123")
    page.click("button[type=submit].primary")
    page.wait_for_url(page.base + "/")
    return page
