"""The admin login's lockout (crm/lockout.py, django-axes): a username + address pair
after AXES_FAILURE_LIMIT failures, an address alone after
CRM_LOGIN_ADDRESS_FAILURE_LIMIT failures over any usernames; the security log names
the account and the address, never the password."""

import logging

import pytest
from django.test import Client

ATTACKER = "203.0.113.9"


def login(address, username, password):
    client = Client(REMOTE_ADDR=address)
    response = client.post("/admin/login/?next=/admin/", {"username": username, "password": password})
    return response, "_auth_user_id" in client.session


@pytest.fixture
def staff(make_staff):
    return [make_staff(f"user{n}", "VIP manager") for n in range(30)]


def test_one_address_guessing_many_accounts_is_locked_out(staff, settings, caplog):
    caplog.set_level(logging.INFO)
    # 3 guesses per account stay under the pair limit (5) for every account
    for guess in range(3):
        for user in staff[:10]:
            response, logged_in = login(ATTACKER, user.username, f"guess-{guess}")
            assert not logged_in

    # the address has failed 30 times (limit 20): even a right password is refused there
    response, logged_in = login(ATTACKER, "user29", "pw")
    assert response.status_code in (403, 429) and not logged_in
    # another address is not locked
    _response, logged_in = login("198.51.100.4", "user29", "pw")
    assert logged_in


def test_under_the_address_limit_a_right_password_still_works(staff):
    for user in staff[:19]:
        login(ATTACKER, user.username, "wrong")
    _response, logged_in = login(ATTACKER, "user29", "pw")
    assert logged_in


def test_the_security_log_names_the_account_and_the_address_but_not_the_password(staff, caplog):
    caplog.set_level(logging.INFO)
    for _n in range(5):
        login(ATTACKER, "user3", "hunter2-secret")

    lines = [r.getMessage() for r in caplog.records if r.name.startswith("axes")]
    failures = [line for line in lines if "login failure" in line.lower()]
    locking = [line for line in lines if "locking out" in line.lower() or "locked out" in line.lower()]
    assert failures and locking
    for line in failures + locking:
        assert "user3" in line and ATTACKER in line and "****" not in line
    assert not any("hunter2-secret" in line for line in lines)


def test_behind_a_proxy_each_client_is_counted_by_the_address_the_proxy_saw(staff, settings):
    settings.AXES_IPWARE_PROXY_COUNT = 1
    proxy = "10.0.0.1"

    def through_proxy(client_address, username, password, claimed=""):
        forwarded = f"{claimed}, {client_address}" if claimed else client_address
        client = Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=forwarded)
        client.post("/admin/login/?next=/admin/", {"username": username, "password": password})
        return "_auth_user_id" in client.session

    for n in range(25):  # each guess claims another address in front of the real one
        assert not through_proxy(ATTACKER, staff[n].username, "wrong", claimed=f"192.0.2.{n}")

    assert not through_proxy(ATTACKER, "user29", "pw")
    assert through_proxy("198.51.100.4", "user29", "pw")  # everyone else behind the same proxy
