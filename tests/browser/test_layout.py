"""Every page of every menu, for each kind of user, at 390 px and 1440 px: it loads, runs no
failing script, fits the screen without sideways scrolling, and labels every form control."""

from __future__ import annotations

import pytest

from tests.cases.conftest import centre

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

# Form controls a keyboard or screen-reader user cannot name: no <label>, no aria-label(ledby).
UNLABELLED = """
() => Array.from(document.querySelectorAll(
    'main input:not([type=hidden]):not([type=submit]):not([type=button]), main select, main textarea'))
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                && !el.getAttribute('aria-labelledby') && !el.closest('label'))
  .map(el => el.name || el.id || el.outerHTML.slice(0, 80))
"""


def menu_links(visitor):
    return visitor.page.eval_on_selector_all(
        ".mainnav a", "links => links.map(a => a.getAttribute('href'))"
    )


@pytest.mark.parametrize("who", ["worker", "dispatcher", "official"])
@pytest.mark.parametrize("width", ["phone", "desktop"])
def test_every_menu_page_holds_at_phone_and_desktop_width(visit, world, who, width):
    from grassroots.cases import services

    lon, lat = centre(world.grid_a11)
    services.case_report(
        actor=None,
        channel="portal",
        category="environment",
        description="路灯坏了，晚上很黑",
        lon=lon,
        lat=lat,
        reporter_phone="13800138000",
    )
    visitor = visit(world.users[who], width=width)
    visitor.go("/")
    links = [href for href in menu_links(visitor) if not href.startswith("/admin/")]
    assert links, f"{who} has no menu"
    for href in links:
        response = visitor.go(href)
        assert response.status == 200, f"{href} answered {response.status}"
        visitor.page.wait_for_load_state("networkidle")
        visitor.no_sideways_scroll()
        assert visitor.page.evaluate(UNLABELLED) == [], f"unlabelled form controls on {href}"
        name = href.strip("/").replace("/", "-") or "home"
        visitor.shot(f"{who}-{name}")
    visitor.check_clean()


def test_the_keyboard_reaches_the_content_first(visit, world):
    visitor = visit(world.users["worker"], width="phone")
    visitor.go("/")
    visitor.page.keyboard.press("Tab")
    focused = visitor.page.evaluate("document.activeElement.getAttribute('href')")
    assert focused == "#main"
    visitor.page.keyboard.press("Enter")
    assert visitor.page.evaluate("location.hash") == "#main"
