"""Login brute force (django-axes): after LOGIN_FAILURE_LIMIT failed logins for one username from
one client address, that pair is locked out for LOGIN_LOCKOUT_MINUTES; the client address is the
connection's, or behind the TLS proxy the one our proxy put in X-Forwarded-For."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.db.models import F
from django.test import Client

from contactcenter.clientip import client_address

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/?next=/admin/"
PASSWORD = "a-long-and-correct-password"


@pytest.fixture
def staff(db):
    return get_user_model().objects.create_user("ada", password=PASSWORD, is_staff=True)


def log_in(password: str, *, username: str = "ada", address: str = "198.51.100.7", **headers):
    client = Client(REMOTE_ADDR=address)
    response = client.post(LOGIN, {"username": username, "password": password}, headers=headers)
    return client, response


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_the_limit_locks_the_username_out_from_that_address(staff, settings):
    assert settings.AXES_FAILURE_LIMIT == 5
    for _ in range(4):
        _, response = log_in("wrong")
        assert response.status_code == 200  # the form again, with its error
    assert log_in("wrong")[1].status_code == 429  # the fifth failure locks it

    client, response = log_in(PASSWORD)  # even the right password

    assert response.status_code == 429
    page = response.content.decode()
    assert "Too many failed logins" in page and "15 minutes" in page
    assert not logged_in(client)


def test_the_lockout_is_per_username_and_address(staff):
    get_user_model().objects.create_user("bob", password=PASSWORD, is_staff=True)
    for _ in range(5):
        log_in("wrong")

    other_address, response = log_in(PASSWORD, address="203.0.113.9")
    assert response.status_code == 302 and logged_in(other_address)
    other_user, response = log_in(PASSWORD, username="bob")
    assert response.status_code == 302 and logged_in(other_user)


def test_the_lockout_ends_after_the_cool_off(staff, settings):
    for _ in range(5):
        log_in("wrong")
    assert log_in(PASSWORD)[1].status_code == 429

    # the attempts now lie just beyond the cool-off period
    AccessAttempt.objects.update(
        attempt_time=F("attempt_time") - settings.AXES_COOLOFF_TIME - timedelta(seconds=1)
    )

    client, response = log_in(PASSWORD)
    assert response.status_code == 302 and logged_in(client)


def test_a_successful_login_clears_the_failures(staff):
    for _ in range(4):
        log_in("wrong")
    assert log_in(PASSWORD)[1].status_code == 302
    for _ in range(4):
        log_in("wrong")

    assert log_in(PASSWORD)[1].status_code == 302


def test_the_limit_and_period_come_from_the_settings(staff, settings):
    settings.AXES_FAILURE_LIMIT = 2
    settings.AXES_COOLOFF_TIME = timedelta(minutes=60)
    for _ in range(2):
        log_in("wrong")

    response = log_in(PASSWORD)[1]

    assert response.status_code == 429
    assert "60 minutes" in response.content.decode()


def test_behind_the_proxy_the_address_is_the_one_our_proxy_appended(staff, settings):
    settings.BEHIND_TLS_PROXY = True
    proxy = "10.0.0.2"
    for index in range(5):
        # the client makes up a new leftmost entry each time: it changes nothing
        log_in("wrong", address=proxy, x_forwarded_for=f"192.0.2.{index}, 198.51.100.7")

    assert log_in(PASSWORD, address=proxy, x_forwarded_for="198.51.100.7")[1].status_code == 429
    # another client behind the same proxy is not locked out
    client, response = log_in(PASSWORD, address=proxy, x_forwarded_for="203.0.113.9")
    assert response.status_code == 302 and logged_in(client)


# -- the client address ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("behind_proxy", "count", "remote", "forwarded", "expected"),
    [
        (False, 1, "198.51.100.7", "203.0.113.9", "198.51.100.7"),  # not trusted without proxy
        (True, 1, "10.0.0.2", "203.0.113.9", "203.0.113.9"),
        (True, 1, "10.0.0.2", "1.2.3.4, 203.0.113.9", "203.0.113.9"),  # the leftmost is forged
        (True, 2, "10.0.0.3", "1.2.3.4, 203.0.113.9, 10.0.0.2", "203.0.113.9"),
        # shorter than the chain of proxies: not all of ours wrote it, so it may be forged
        (True, 2, "10.0.0.2", "203.0.113.9", "10.0.0.2"),
        (True, 1, "10.0.0.2", "", "10.0.0.2"),  # no header: the connection's
        (True, 1, "10.0.0.2", "not-an-address", "10.0.0.2"),
        (True, 1, "10.0.0.2", "2001:DB8::1", "2001:db8::1"),
        (False, 1, "", "", None),
    ],
)
def test_client_address(rf, settings, behind_proxy, count, remote, forwarded, expected):
    settings.BEHIND_TLS_PROXY = behind_proxy
    settings.TRUSTED_PROXY_COUNT = count
    request = rf.get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)

    assert client_address(request) == expected
