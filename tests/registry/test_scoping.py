from grassroots.registry.models import Household, Resident


def test_it_shows_each_persona_only_its_subtree(world):
    codes = lambda user: sorted(Household.objects.visible_to(user).values_list("code", flat=True))  # noqa: E731
    u = world.users
    assert codes(u["admin"]) == ["HA11-1", "HA11-2", "HA12-1", "HA21-1", "HB11-1"]
    assert codes(u["official"]) == ["HA11-1", "HA11-2", "HA12-1", "HA21-1"]
    assert codes(u["secretary"]) == ["HA11-1", "HA11-2", "HA12-1"]
    assert codes(u["worker"]) == ["HA11-1", "HA11-2"]
    assert codes(u["worker2"]) == ["HA12-1", "HA21-1"]
    assert codes(u["outsider"]) == ["HB11-1"]


def test_it_scopes_residents_like_their_households(world):
    names = sorted(
        Resident.objects.visible_to(world.users["worker"]).values_list("name", flat=True)
    )
    assert names == ["赵光菊", "钱多多"]


def test_it_shows_nothing_to_anonymous_and_inactive_users(world):
    from django.contrib.auth.models import AnonymousUser

    assert not Household.objects.visible_to(AnonymousUser()).exists()
    world.users["admin"].is_active = False
    assert not Household.objects.visible_to(world.users["admin"]).exists()


def test_it_bounds_code_prefixes_without_punctuation():
    from grassroots.core.scoping import code_upper_bound

    assert code_upper_bound("350426") == "350427"
    assert code_upper_bound("350429") == "35043"
    assert code_upper_bound("350426100999") == "350426101"
    assert code_upper_bound("999") is None


def test_it_keeps_codes_at_the_end_of_a_range_in_scope(db):
    from grassroots.core.scoping import Scope
    from grassroots.territory.models import Unit
    from tests import factories as f

    f.unit("350429")
    f.unit("350429999")
    f.unit("350430")
    codes = set(Unit.objects.in_scope(Scope.of("350429")).values_list("code", flat=True))
    assert codes == {"350429", "350429999"}
