"""Units and grids (GeoJSON)."""

from __future__ import annotations

from tests import factories as f

from .conftest import body


def test_it_renders_a_unit(world, as_):
    assert body(as_("official").get("/units/350426100001")) == {
        "code": "350426100001",
        "name": "水东社区",
        "level": "village",
        "kind": "community",
        "parent_code": "350426100",
    }
    assert body(as_("admin").get("/units/350426"))["parent_code"] == "3504"


def test_it_filters_units_by_parent_and_level(world, as_):
    codes = lambda **p: [u["code"] for u in body(as_("admin").get("/units", **p))["items"]]  # noqa: E731
    assert codes(parent="350426") == ["350426100", "350426101"]
    assert codes(parent="350426100") == ["350426100001", "350426100002"]
    assert codes(level="village") == ["350426100001", "350426100002", "350426101201"]
    assert codes(level="town", parent="350426") == ["350426100", "350426101"]
    assert codes(level="county") == ["350426"]


def test_it_renders_a_grid_as_a_geojson_feature(world, as_):
    grid = world.grid_a11
    data = body(as_("worker").get(f"/grids/{grid.code}"))
    assert data == {
        "type": "Feature",
        "id": "350426100001001",
        "bbox": [grid.min_lon, grid.min_lat, grid.max_lon, grid.max_lat],
        "geometry": f.square(118.10, 26.10),
        "properties": {
            "code": "350426100001001",
            "name": "水东一网格",
            "kind": "comprehensive",
            "unit": {"code": "350426100001", "name": "水东社区"},
        },
    }


def test_it_lists_grids_as_a_feature_collection(world, as_):
    data = body(as_("official").get("/grids", page_size=2))
    assert data["type"] == "FeatureCollection"
    assert (data["count"], data["page"], data["page_size"]) == (3, 1, 2)
    assert [feature["id"] for feature in data["features"]] == [
        "350426100001001",
        "350426100001002",
    ]
    assert all(feature["type"] == "Feature" for feature in data["features"])
    data = body(as_("official").get("/grids", page_size=2, page=2))
    assert [feature["id"] for feature in data["features"]] == ["350426100002001"]


def test_it_filters_grids_by_unit(world, as_):
    ids = lambda **p: [g["id"] for g in body(as_("admin").get("/grids", **p))["features"]]  # noqa: E731
    assert ids(unit="350426100002") == ["350426100002001"]
    assert ids(unit="350426101") == ["350426101201001"]
    assert ids(unit="350426100") == ["350426100001001", "350426100001002", "350426100002001"]


def test_it_refuses_malformed_territory_filters(world, as_):
    for path, params, field, reason in [
        ("/units", {"parent": "35x"}, "parent", "a unit code has 6 (county), 9 (town) or 12"),
        ("/units", {"level": "planet"}, "level", "Input should be 'province', 'city'"),
        ("/grids", {"unit": "3504261"}, "unit", "a unit code has 6 (county), 9 (town) or 12"),
    ]:
        response = as_("admin").get(path, **params)
        assert response.status_code == 422
        errors = body(response)["errors"]
        assert [e["field"] for e in errors] == [field]
        assert errors[0]["reason"].startswith(reason)
