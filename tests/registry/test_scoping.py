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
