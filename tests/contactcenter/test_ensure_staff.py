import re
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def run_ensure_staff(**options) -> str:
    out = StringIO()
    call_command("ensure_staff", stdout=out, **options)
    return out.getvalue()


def printed_password(output: str) -> str:
    match = re.search(r"password: (\S+)", output)
    assert match, output
    return match.group(1)


def test_creates_a_staff_login_with_a_random_password_printed_once():
    output = run_ensure_staff()

    user = get_user_model().objects.get(username="admin")
    password = printed_password(output)
    assert user.is_staff and user.is_superuser
    assert user.check_password(password)
    assert len(password) >= 16

    again = run_ensure_staff()
    assert "already exists" in again
    assert password not in again
    user.refresh_from_db()
    assert user.check_password(password)


def test_passwords_are_not_fixed():
    first = printed_password(run_ensure_staff(username="one"))
    second = printed_password(run_ensure_staff(username="two"))

    assert first != second


def test_staff_login_reaches_the_admin(client):
    password = printed_password(run_ensure_staff())

    # through the login form (django-axes needs the request: client.login would not give it)
    login = client.post("/admin/login/?next=/admin/", {"username": "admin", "password": password})
    assert login.status_code == 302
    response = client.get("/admin/")
    assert response.status_code == 200
    assert b"Administration" in response.content
