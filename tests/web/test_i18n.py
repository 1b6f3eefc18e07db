"""Pages in Simplified Chinese by default, English on request, and a complete catalog."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse

PACKAGE_DIR = Path(settings.PACKAGE_DIR)
CATALOG = PACKAGE_DIR / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
PLACEHOLDER = re.compile(r"%\((\w+)\)[sdr]")


@pytest.mark.chinese
def test_it_renders_the_admin_in_chinese_by_default(world, login):
    html = login("admin").get(reverse("admin:index")).content.decode()
    assert '<html lang="zh-hans"' in html
    assert "Grassroots 基层网格化治理" in html  # our site header
    assert "基础信息与区划网格" in html  # our index title
    assert "网格覆盖核查" in html and "居民" in html and "户" in html  # our strings
    assert "最近动作" in html  # Django's own


@pytest.mark.chinese
def test_it_renders_pages_in_english_after_switching_language(world, login):
    client = login("admin")
    response = client.post(reverse("set_language"), {"language": "en", "next": "/admin/"})
    assert response.status_code == 302 and response["Location"] == "/admin/"
    html = client.get(reverse("admin:index")).content.decode()
    assert '<html lang="en"' in html
    assert "Grassroots grid governance" in html and "Residents" in html
    assert "Recent actions" in html
    html = client.get(reverse("coverage")).content.decode()
    assert "Households without a grid" in html
    response = client.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    assert "未划入网格的户" in client.get(reverse("coverage")).content.decode()


@pytest.mark.chinese
def test_it_offers_the_language_switch_on_the_login_page(client, db):
    html = client.get(reverse("admin:login")).content.decode()
    assert f'action="{reverse("set_language")}"' in html
    assert '<option value="en"' in html and "简体中文" in html


def test_it_translates_every_message_of_the_catalog():
    catalog = polib.pofile(str(CATALOG))
    untranslated = [e.msgid for e in catalog.untranslated_entries()]
    fuzzy = [e.msgid for e in catalog.fuzzy_entries()]
    assert untranslated == [], "messages without a translation"
    assert fuzzy == [], "fuzzy translations to check"
    for entry in catalog.translated_entries():
        for text in [entry.msgstr, *entry.msgstr_plural.values()]:
            if text:
                expected = set(PLACEHOLDER.findall(entry.msgid))
                assert set(PLACEHOLDER.findall(text)) == expected, entry.msgid


def msgids(po: polib.POFile) -> set[tuple[str | None, str, str]]:
    return {(e.msgctxt, e.msgid, e.msgid_plural) for e in po if not e.obsolete}


def test_it_keeps_the_catalog_up_to_date_with_the_code(tmp_path, monkeypatch):
    """A string added to the code without running makemessages (and translating) fails here.

    To update: cd src/grassroots && ../../.venv/bin/grassroots makemessages -l zh_Hans
    --no-obsolete --no-wrap --add-location=file, then translate the new entries.
    """
    if shutil.which("xgettext") is None:
        pytest.fail("this check needs GNU gettext: apt-get install gettext (make does it)")
    copy = tmp_path / "grassroots"
    shutil.copytree(
        PACKAGE_DIR,
        copy,
        ignore=shutil.ignore_patterns("locale", "__pycache__", "*.pyc", "*.mo", "*.po"),
    )
    (copy / "locale").mkdir()
    monkeypatch.chdir(copy)
    with override_settings(LOCALE_PATHS=[]):
        call_command("makemessages", locale=["zh_Hans"], no_obsolete=True, verbosity=0)
    fresh = msgids(polib.pofile(str(copy / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po")))
    kept = msgids(polib.pofile(str(CATALOG)))
    assert sorted(m[1] for m in fresh - kept) == [], "strings missing from django.po"
    assert sorted(m[1] for m in kept - fresh) == [], "strings in django.po no longer used"


@pytest.mark.chinese
def test_it_speaks_chinese_even_to_an_english_browser(client):
    response = client.get("/admin/login/", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert response.status_code == 200
    assert "用户名" in response.content.decode()


@pytest.mark.chinese
def test_it_switches_to_english_when_the_user_chooses_it(client):
    client.post("/i18n/setlang/", {"language": "en", "next": "/admin/login/"})
    response = client.get("/admin/login/")
    assert "Username" in response.content.decode()


def test_it_serves_the_admin_stylesheet_without_debug(client, settings):
    settings.DEBUG = False
    response = client.get("/static/admin/css/base.css")
    assert response.status_code == 200
