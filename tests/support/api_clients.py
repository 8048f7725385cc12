"""Fixtures for the REST API tests (a pytest plugin, see tests/conftest.py): API keys with chosen
scopes, staff with chosen permissions, and clients that send them."""

from collections.abc import Callable, Iterable

import pytest
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from contactcenter.api.auth import api_key_failures_clear
from contactcenter.models import ApiKey, ApiScope

# The test clients' own address, and the ones tests pose as (documentation ranges).
CLIENT_ADDRESSES = ("127.0.0.1", "unknown", "198.51.100.7", "198.51.100.8", "198.51.100.9")


@pytest.fixture(autouse=True)
def no_api_key_failures_counted():
    """Failed API-key attempts are counted per address in the cache (Redis), which outlives a
    test: each test starts and ends with none counted for the addresses tests use."""
    for address in CLIENT_ADDRESSES:
        api_key_failures_clear(address)
    yield
    for address in CLIENT_ADDRESSES:
        api_key_failures_clear(address)


@pytest.fixture
def api_key_record(db) -> tuple[ApiKey, str]:
    """(ApiKey row, plain key) of a fresh key holding every scope."""
    return ApiKey.issue(name="CRM", scopes=ApiScope.values)


@pytest.fixture
def api_key(api_key_record) -> str:
    """The plain text of a fresh API key."""
    return api_key_record[1]


@pytest.fixture
def api_client(api_key) -> APIClient:
    """A DRF test client that sends `Authorization: Api-Key <key>` on every request."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key}")
    return client


@pytest.fixture
def key_client(db) -> Callable[[Iterable[str]], APIClient]:
    """`key_client(scopes)`: a client sending a fresh key that holds exactly these scopes."""

    def make(scopes: Iterable[str]) -> APIClient:
        _, key = ApiKey.issue(name="Scoped", scopes=list(scopes))
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
        return client

    return make


@pytest.fixture
def anonymous_client() -> APIClient:
    return APIClient()


def permission_rows(names: Iterable[str]) -> list[Permission]:
    """The Permission rows of "app_label.codename" names (each must exist)."""
    wanted = {tuple(name.split(".", 1)) for name in names}
    rows = [
        row
        for row in Permission.objects.select_related("content_type")
        if (row.content_type.app_label, row.codename) in wanted
    ]
    assert len(rows) == len(wanted), f"unknown permission among {sorted(wanted)}"
    return rows


@pytest.fixture
def staff_with(django_user_model) -> Callable[[Iterable[str]], APIClient]:
    """`staff_with(["telephony.add_call", ...])`: a client signed in (as from the admin) as a
    new staff member holding exactly these permissions."""
    made = []

    def make(permissions: Iterable[str]) -> APIClient:
        user = django_user_model.objects.create_user(
            username=f"staff{len(made)}",
            password=None,
            is_staff=True,  # no hashing: fast
        )
        user.user_permissions.set(permission_rows(permissions))
        made.append(user)
        client = APIClient()
        client.force_login(user)
        return client

    return make


@pytest.fixture
def staff_client(staff_with) -> APIClient:
    """A staff member signed in with a session, holding every permission."""
    return staff_with(
        f"{app_label}.{codename}"
        for app_label, codename in Permission.objects.values_list(
            "content_type__app_label", "codename"
        )
    )
