"""Every API route needs authentication; keys are checked, revocable and hashed."""

import re

import pytest
from django.urls import URLPattern, URLResolver
from rest_framework.test import APIClient

from contactcenter.api.urls import router
from contactcenter.models import ApiKey

pytestmark = pytest.mark.django_db


def api_paths() -> list[str]:
    """Every route of the v1 router, with its path parameters filled in."""
    paths = []
    for pattern in router.urls:
        assert isinstance(pattern, URLPattern | URLResolver)
        route = str(pattern.pattern).lstrip("^").rstrip("$")
        if "<format>" in route:
            continue  # the same views with a ".json" suffix
        route = re.sub(r"\(\?P<(\w+)>[^)]*\)", "1", route).replace("\\.", ".")
        paths.append("/api/v1/" + route.removesuffix("/?") + ("/" if route.endswith("/?") else ""))
    return sorted(set(paths))


def test_there_are_routes_to_check():
    assert len(api_paths()) >= 10


@pytest.mark.parametrize("method", ["get", "post", "patch", "put", "delete"])
def test_every_route_refuses_an_anonymous_caller(method):
    client = APIClient()
    for path in api_paths():
        response = getattr(client, method)(path)
        assert response.status_code in (401, 403), (method, path, response.status_code)
        assert "error" in response.json(), path


def test_a_signed_in_user_who_is_not_staff_is_refused(django_user_model):
    client = APIClient()
    client.force_login(django_user_model.objects.create_user(username="u", password="x"))
    assert client.get("/api/v1/calls/").status_code == 403


def test_keys_authenticate_until_revoked_and_only_their_hash_is_stored():
    api_key, plain = ApiKey.issue(name="CRM")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {plain}")
    assert client.get("/api/v1/calls/").status_code == 200
    assert client.get("/api/v1/calls/", HTTP_X_API_KEY=plain).status_code == 200
    assert plain not in str(ApiKey.objects.filter(pk=api_key.pk).values().get())
    api_key.refresh_from_db()
    assert api_key.last_used_at is not None

    api_key.revoke()

    response = client.get("/api/v1/calls/")
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "This API key has been revoked."


@pytest.mark.parametrize("key", ["nonsense", "cck_deadbeef_wrong", "cck_only-two"])
def test_wrong_keys_are_refused(key):
    ApiKey.issue(name="CRM")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    assert client.get("/api/v1/calls/").status_code == 401


def test_every_issued_key_works_whatever_its_random_part():
    client = APIClient()
    for _ in range(30):  # the random part often contains "_"
        _, plain = ApiKey.issue(name="CRM")
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {plain}")
        assert client.get("/api/v1/calls/").status_code == 200


def test_the_schema_and_docs_need_a_login_too():
    client = APIClient()
    assert client.get("/api/schema/").status_code in (401, 403)
    assert client.get("/api/docs/").status_code in (401, 403)


def test_each_key_has_its_own_rate_limit(settings):
    settings.API_RATE_PER_KEY = "3/minute"
    first, second = APIClient(), APIClient()
    first.credentials(HTTP_AUTHORIZATION=f"Api-Key {ApiKey.issue(name='A')[1]}")
    second.credentials(HTTP_AUTHORIZATION=f"Api-Key {ApiKey.issue(name='B')[1]}")

    assert [first.get("/api/v1/calls/").status_code for _ in range(4)] == [200, 200, 200, 429]
    throttled = first.get("/api/v1/calls/")
    assert throttled.json()["error"]["code"] == "throttled"
    assert "Retry-After" in throttled.headers
    assert second.get("/api/v1/calls/").status_code == 200


def test_nul_characters_in_json_are_a_clear_400_not_a_server_error(caller_number, agent_profile):
    """Found by the schema fuzz run: PostgreSQL cannot store \\u0000 in JSON."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {ApiKey.issue(name='CRM')[1]}")
    agent = client.post(
        "/api/v1/agents/",
        {"name": "nul", "pipeline_id": "p", "properties": {"a\x00": "b"}},
        format="json",
    )
    call = client.post(
        "/api/v1/calls/",
        {"to_number": "+14155550150", "caller_id": caller_number.pk, "agent": agent_profile.pk,
         "variables": {"first_name": "A\x00da"}},
        format="json",
    )  # fmt: skip
    assert agent.status_code == 400
    assert "NUL characters" in str(agent.json()["error"]["fields"])
    assert call.status_code == 400
    assert "NUL characters" in str(call.json()["error"]["fields"])


def test_odd_time_offsets_in_filters_are_handled_not_a_server_error():
    """Found by the schema fuzz run: PostgreSQL refuses offsets beyond +-15:59."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {ApiKey.issue(name='CRM')[1]}")
    response = client.get("/api/v1/calls/", {"created_after": "0447-10-20T06:43:23-18:17"})
    assert response.status_code in (200, 400)
