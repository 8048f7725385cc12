"""Fixtures for the REST API tests: an API key and a client that sends it."""

import pytest
from rest_framework.test import APIClient

from contactcenter.models import ApiKey


@pytest.fixture
def api_key_record(db) -> tuple[ApiKey, str]:
    """(ApiKey row, plain key) of a fresh key."""
    return ApiKey.issue(name="CRM")


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
def anonymous_client() -> APIClient:
    return APIClient()


@pytest.fixture
def staff_client(django_user_model) -> APIClient:
    """A staff member signed in with a session (as from the admin)."""
    user = django_user_model.objects.create_user(
        username="staff", password="not-used", is_staff=True
    )
    client = APIClient()
    client.force_login(user)
    return client
