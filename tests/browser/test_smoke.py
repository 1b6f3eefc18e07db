"""The layout holds at phone and desktop widths, the libraries load, and the language switches."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_it_switches_the_error_page_between_chinese_and_english(visit):
    phone = visit()
    response = phone.go("/no-such-page/")
    assert response.status == 404
    assert phone.page.locator("h1").inner_text() == "页面没有找到"
    phone.no_sideways_scroll()
    phone.shot("not-found-zh")
    with phone.page.expect_navigation():
        phone.page.select_option("#language-select", "en")
    assert phone.page.locator("h1").inner_text() == "Page not found"
    assert phone.page.locator("html").get_attribute("lang") == "en"
    phone.shot("not-found-en")
    phone.check_clean()
