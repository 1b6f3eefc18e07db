"""Browser tests: Playwright drives Debian's Chromium against a live server of the app.

Chromium comes from the distribution (`apt-get install chromium`, done by `make test` and
`.ci/run`); Playwright's own browser download is never used. Each journey saves screenshots at
phone (390 px) and desktop (1440 px) widths under var/screenshots/<journey>/.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from tests.live import audit_events_flushed_too, database_as_migrated_afterwards  # noqa: F401
from tests.web.conftest import compile_messages, verify_two_factor

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(settings.VAR_DIR) / "screenshots"
WIDTHS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1440, "height": 900}}
# Flags for a closed network: no background calls home, no component updates.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# The innermost elements that stick out past the right edge of the screen.
WIDE_ELEMENTS = """
() => Array.from(document.querySelectorAll('body *'))
  .filter(el => el.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
  .filter(el => !Array.from(el.children).some(
      c => c.getBoundingClientRect().right > document.documentElement.clientWidth + 1))
  .slice(0, 5)
  .map(el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
       (el.className && typeof el.className === 'string' ? '.' + el.className.split(' ').join('.') : ''))
"""


@pytest.fixture(scope="session", autouse=True)
def _compiled_messages() -> None:
    compile_messages()


@pytest.fixture(scope="session")
def browser(django_db_setup: Any) -> Iterator[Any]:
    """Chromium for the browser tests, which run last (tests/conftest.py). Playwright's sync API
    keeps an event loop running in this thread while it is open; the tests' own ORM calls are
    still synchronous, one at a time, so Django's async guard is lifted from then on. The test
    database is made before it starts."""
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests need Debian's chromium (make browser)"
        )
    from playwright.sync_api import sync_playwright

    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
            yield chromium
            chromium.close()
    finally:
        if before is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


class Visitor:
    """A browser tab at one width, signed in as someone or anonymous, that fails the test on a
    JavaScript error and saves screenshots."""

    def __init__(self, context: Any, base_url: str, width: str, journey: str) -> None:
        self.context = context
        self.base_url = base_url
        self.width = width
        self.journey = journey
        self.page = context.new_page()
        self.page.set_default_timeout(15_000)
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("console", self._console)
        self.page.on("response", self._response)

    def _console(self, message: Any) -> None:
        # A page answered with 403/404 logs "Failed to load resource" too: that is the page's
        # status, checked by the tests; broken assets are caught by _response instead.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.errors.append(message.text)

    def _response(self, response: Any) -> None:
        if "/static/" in response.url and response.status >= 400:
            self.errors.append(f"{response.status} {response.url}")

    def go(self, path: str) -> Any:
        response = self.page.goto(self.base_url + path)
        self.page.wait_for_load_state("load")
        return response

    def shot(self, step: str) -> list[Path]:
        """Screenshots of the page as it is, at phone and at desktop width (the other width by
        resizing the window, as a browser would relayout it), and the window put back."""
        folder = SCREENSHOTS / self.journey
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        others = [w for w in WIDTHS if w != self.width]
        for width in [self.width, *others]:
            if width != self.width:
                self.page.set_viewport_size(WIDTHS[width])
                self.page.wait_for_timeout(200)  # charts and maps redraw on resize
            path = folder / f"{step}-{width}.png"
            self.page.screenshot(path=str(path), full_page=True)
            paths.append(path)
        if others:
            self.page.set_viewport_size(WIDTHS[self.width])
        return paths

    def no_sideways_scroll(self) -> None:
        """The page fits its width: nothing forces a phone to scroll sideways (tables scroll
        inside their own box)."""
        overflow = self.page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        if overflow > 1:
            culprits = self.page.evaluate(WIDE_ELEMENTS)
            raise AssertionError(
                f"{self.page.url} is {overflow}px wider than the {self.width} screen: {culprits}"
            )

    def check_clean(self) -> None:
        assert self.errors == [], f"JavaScript errors on {self.page.url}: {self.errors}"


@pytest.fixture
def visit(browser: Any, live_server: Any, request: Any) -> Iterator[Callable[..., Visitor]]:
    """`visit(user=None, width="phone", language="zh-hans")` → a Visitor on the live server.

    Screenshots go to var/screenshots/<test module name without test_>/.
    """
    journey = re.sub(r"^test_", "", request.module.__name__.rsplit(".", 1)[-1])
    contexts: list[Any] = []
    visitors: list[Visitor] = []

    def make(user: Any = None, width: str = "phone", language: str = "zh-hans") -> Visitor:
        context = browser.new_context(
            viewport=WIDTHS[width],
            locale="zh-CN" if language == "zh-hans" else "en-US",
            is_mobile=width == "phone",
            has_touch=width == "phone",
            device_scale_factor=1,
        )
        contexts.append(context)
        host = live_server.url.split("//", 1)[1].split(":")[0]
        cookies = [
            {"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "domain": host, "path": "/"}
        ]
        if user is not None:
            client = Client()
            client.force_login(user)
            from grassroots.accounts.two_factor import otp_required

            if otp_required(user):
                verify_two_factor(client, user)
            session = client.cookies[settings.SESSION_COOKIE_NAME].value
            cookies.append(
                {
                    "name": settings.SESSION_COOKIE_NAME,
                    "value": session,
                    "domain": host,
                    "path": "/",
                }
            )
        context.add_cookies(cookies)
        visitor = Visitor(context, live_server.url, width, journey)
        visitors.append(visitor)
        return visitor

    yield make
    for context in contexts:
        context.close()
