"""A grid's name is text on the map, never markup (issue 11, item 8): a name holding a
`<meta http-equiv=refresh>` redirected everyone who hovered the grid."""

from __future__ import annotations

import pytest

from grassroots.territory.models import Grid

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

# At most 100 characters, the length of a grid's name.
HOSTILE = (
    '水东<meta http-equiv="refresh" content="0;url=/nowhere/">'
    "<img src=x onerror=document.title='owned'>"
)


@pytest.mark.parametrize(("width", "language"), [("desktop", "zh-hans"), ("phone", "en")])
def test_a_grid_name_with_markup_shows_as_text_in_the_tooltip(visit, world, width, language):
    # Written past the validators, as a name stored before they existed would be.
    assert len(HOSTILE) <= 100
    Grid.objects.filter(pk=world.grid_a11.pk).update(name=HOSTILE)
    official = visit(world.users["official"], width=width, language=language)
    official.go("/console/map/")
    official.page.wait_for_selector("#insight-map path.leaflet-interactive")
    start = official.page.url
    shapes = official.page.locator("#insight-map path.leaflet-interactive")
    texts = []
    for index in range(shapes.count()):
        shapes.nth(index).hover(force=True)
        official.page.wait_for_selector(".leaflet-tooltip")
        texts += official.page.locator(".leaflet-tooltip").all_inner_texts()
        if any(HOSTILE in text for text in texts):
            break
    assert any(HOSTILE in text for text in texts), texts
    official.page.wait_for_timeout(1200)  # a refresh of 0 s would have gone by now
    assert official.page.url == start
    assert official.page.locator("meta[http-equiv]").count() == 0
    assert official.page.locator("#insight-map img[src='x']").count() == 0
    assert official.page.title() != "owned"
    official.shot(f"hostile-grid-name-{language}")
    official.check_clean()
