"""Sign-in: lockout after repeated failures, per account and per address."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def lockout_limit(settings):
    settings.AXES_FAILURE_LIMIT = 3
    settings.AXES_ADDRESS_FAILURE_LIMIT = 6


def attempt(client, username, password, address="10.1.1.1"):
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": username, "password": password},
        REMOTE_ADDR=address,
    )


def test_it_locks_an_account_after_repeated_failures(client, world):
    for _ in range(2):
        assert attempt(client, "secretary", "wrong-password").status_code == 200
    # The failure that reaches the limit locks the account at once.
    assert attempt(client, "secretary", "wrong-password").status_code == 429
    # Even the right password is refused now, from another address too.
    response = attempt(client, "secretary", "pw-secretary-Long1!", address="10.2.2.2")
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_it_locks_an_address_that_tries_many_accounts(client, world):
    for name in ("admin", "official", "auditor", "worker2", "dispatcher", "outsider"):
        attempt(client, name, "wrong-password", address="10.3.3.3")
    assert attempt(client, "worker", "pw-worker-Long1!", address="10.3.3.3").status_code == 429
    # The account itself is not locked: from another address it signs in.
    assert attempt(client, "worker", "pw-worker-Long1!", address="10.4.4.4").status_code == 302


def test_it_signs_in_and_forgets_failures_on_success(client, world):
    attempt(client, "official", "wrong-password")
    attempt(client, "official", "wrong-password")
    assert attempt(client, "official", "pw-official-Long1!").status_code == 302
    client.logout()
    attempt(client, "official", "wrong-password")
    attempt(client, "official", "wrong-password")
    assert attempt(client, "official", "pw-official-Long1!").status_code == 302


def test_one_account_locked_leaves_its_colleagues_behind_the_same_address(client, world):
    # A township office behind one router: one person's typos lock their account only.
    for _ in range(3):
        attempt(client, "secretary", "wrong-password", address="10.5.5.5")
    assert (
        attempt(client, "secretary", "pw-secretary-Long1!", address="10.5.5.5").status_code == 429
    )
    for name in ("official", "worker", "dispatcher"):
        response = attempt(client, name, f"pw-{name}-Long1!", address="10.5.5.5")
        assert response.status_code == 302, name
        client.logout()
