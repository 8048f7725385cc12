"""Every API route needs authentication; keys are checked, revocable and hashed."""

import re

import pytest
from django.contrib.auth.models import Permission
from django.urls import URLPattern, URLResolver, reverse
from rest_framework.test import APIClient

from contactcenter.api import auth
from contactcenter.api.urls import router
from contactcenter.models import ApiKey, ApiScope

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
    api_key, plain = ApiKey.issue(name="CRM", scopes=[ApiScope.CALLS_READ])
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
    ApiKey.issue(name="CRM", scopes=ApiScope.values)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    assert client.get("/api/v1/calls/").status_code == 401


def test_every_issued_key_works_whatever_its_random_part():
    client = APIClient()
    for _ in range(30):  # the random part often contains "_"
        _, plain = ApiKey.issue(name="CRM", scopes=[ApiScope.CALLS_READ])
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {plain}")
        assert client.get("/api/v1/calls/").status_code == 200


def test_the_schema_and_docs_need_a_login_too():
    client = APIClient()
    assert client.get("/api/schema/").status_code in (401, 403)
    # the docs page sends a signed-out browser to the login page; a wrong key is refused
    assert client.get("/api/docs/")["Location"] == "/admin/login/?next=/api/docs/"
    assert client.get("/api/docs/", HTTP_AUTHORIZATION="Api-Key nope").status_code in (401, 403)


def test_each_key_has_its_own_rate_limit(settings):
    settings.API_RATE_PER_KEY = "3/minute"
    first, second = APIClient(), APIClient()
    for client, name in ((first, "A"), (second, "B")):
        _, key = ApiKey.issue(name=name, scopes=[ApiScope.CALLS_READ])
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")

    assert [first.get("/api/v1/calls/").status_code for _ in range(4)] == [200, 200, 200, 429]
    throttled = first.get("/api/v1/calls/")
    assert throttled.json()["error"]["code"] == "throttled"
    assert "Retry-After" in throttled.headers
    assert second.get("/api/v1/calls/").status_code == 200


def test_nul_characters_in_json_are_a_clear_400_not_a_server_error(caller_number, agent_profile):
    """Found by the schema fuzz run: PostgreSQL cannot store \\u0000 in JSON."""
    client = APIClient()
    _, key = ApiKey.issue(name="CRM", scopes=ApiScope.values)
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
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
    _, key = ApiKey.issue(name="CRM", scopes=ApiScope.values)
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    response = client.get("/api/v1/calls/", {"created_after": "0447-10-20T06:43:23-18:17"})
    assert response.status_code in (200, 400)


# -- keys in the admin: scopes chosen on creation, shown, changed ------------------------------


def test_staff_choose_a_keys_scopes_when_creating_it_and_the_list_shows_them(admin_client):
    add = reverse("admin:contactcenter_apikey_add")
    page = admin_client.get(add).content.decode()
    assert 'type="checkbox" name="scopes" value="calls:write"' in page
    assert "Calls: place a call, hang up" in page

    response = admin_client.post(add, {"name": "CRM", "scopes": ["dnc:write", "calls:read"]})

    assert response.status_code == 200  # the page that shows the new key, once
    api_key = ApiKey.objects.get()
    assert f"cck_{api_key.prefix}_" in response.content.decode()
    assert api_key.scopes == ["calls:read", "dnc:write"]  # in the catalogue's order
    listing = admin_client.get(reverse("admin:contactcenter_apikey_changelist")).content.decode()
    assert "calls:read, dnc:write" in listing


def test_a_key_needs_at_least_one_known_scope(admin_client):
    add = reverse("admin:contactcenter_apikey_add")

    none = admin_client.post(add, {"name": "CRM"})
    unknown = admin_client.post(add, {"name": "CRM", "scopes": ["calls:reed"]})

    assert none.status_code == unknown.status_code == 200
    assert none.context["adminform"].form.errors == {"scopes": ["This field is required."]}
    assert "calls:reed is not one of the available choices" in str(
        unknown.context["adminform"].form.errors
    )
    assert not ApiKey.objects.exists()


def test_staff_who_may_change_keys_can_narrow_their_scopes_viewers_only_read_them(
    admin_client, django_user_model
):
    api_key, plain = ApiKey.issue(name="CRM", scopes=ApiScope.values)
    change = reverse("admin:contactcenter_apikey_change", args=[api_key.pk])

    admin_client.post(change, {"name": "CRM", "scopes": ["calls:read"]})

    api_key.refresh_from_db()
    assert api_key.scopes == ["calls:read"]
    assert api_key.key_hash == ApiKey.hash(plain)  # the same key, narrowed
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {plain}")
    assert client.get("/api/v1/agents/").status_code == 403
    viewer = django_user_model.objects.create_user("viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_apikey"))
    admin_client.force_login(viewer)
    page = admin_client.get(change).content.decode()
    assert 'name="scopes"' not in page
    assert "calls:read" in page


def _staff(django_user_model, name, *codenames):
    user = django_user_model.objects.create_user(name, is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return django_user_model.objects.get(pk=user.pk)  # no permission cache


def test_staff_give_a_key_only_what_they_could_do_themselves(client, django_user_model):
    add = reverse("admin:contactcenter_apikey_add")
    clerk = _staff(django_user_model, "clerk", "add_apikey", "view_apikey", "view_call")
    client.force_login(clerk)

    offered = client.get(add).content.decode()
    refused = client.post(add, {"name": "CRM", "scopes": ["calls:read", "calls:write"]})

    assert 'value="calls:read"' in offered and 'value="calls:write"' not in offered
    assert refused.status_code == 200 and not ApiKey.objects.exists()
    assert "not one of the available choices" in str(refused.context["adminform"].form.errors)
    client.post(add, {"name": "Reader", "scopes": ["calls:read"]})
    assert ApiKey.objects.get().scopes == ["calls:read"]


def test_a_scope_needs_every_permission_its_routes_need(django_user_model):
    # calls:write places (add_call), hangs up (change_call) and analyses again calls.
    assert auth.scope_permissions()["calls:write"] == {
        "telephony.add_call",
        "telephony.change_call",
        "analysis.change_callanalysis",
    }
    placer = _staff(django_user_model, "placer", "add_call")
    assert auth.scopes_missing_permissions(placer, ["calls:write"]) == {
        "calls:write": ["analysis.change_callanalysis", "telephony.change_call"]
    }


def test_staff_may_narrow_a_key_beyond_their_permissions_but_not_widen_it(
    client, django_user_model
):
    api_key, _ = ApiKey.issue(name="CRM", scopes=["calls:read", "dnc:write"])
    change = reverse("admin:contactcenter_apikey_change", args=[api_key.pk])
    keeper = _staff(django_user_model, "keeper", "change_apikey", "view_apikey", "view_call")
    client.force_login(keeper)

    widened = client.post(change, {"name": "CRM", "scopes": ["calls:read", "dnc:write",
                                                            "webhooks:admin"]})  # fmt: skip
    assert "webhooks:admin" not in ApiKey.objects.get().scopes
    assert widened.status_code == 200
    client.post(change, {"name": "CRM", "scopes": ["calls:read"]})  # dnc:write dropped
    assert ApiKey.objects.get().scopes == ["calls:read"]


def test_staff_sessions_and_anonymous_requests_are_throttled_by_our_address_rule(settings, rf):
    # DRF's own get_ident would trust the raw X-Forwarded-For: a client could pick any bucket.
    settings.BEHIND_TLS_PROXY = False
    request = rf.get("/api/v1/calls/", REMOTE_ADDR="198.51.100.7",
                     HTTP_X_FORWARDED_FOR="203.0.113.99")  # fmt: skip
    request.user, request.auth = None, None
    key = auth.ApiKeyRateThrottle().get_cache_key(request, view=None)
    assert key.endswith("198.51.100.7")


# -- failed API-key authentication, limited per client address -------------------------------


def test_failed_keys_from_one_address_are_limited_before_any_key_is_looked_up(
    settings, django_assert_num_queries
):
    settings.API_KEY_FAILURE_LIMIT = 3
    settings.API_KEY_FAILURE_WINDOW_SECONDS = 300
    _, valid = ApiKey.issue(name="CRM", scopes=ApiScope.values)
    attacker = APIClient(REMOTE_ADDR="198.51.100.7")
    for guess in ("cc_nope_x", "garbage", f"{valid[:-4]}AAAA"):
        assert attacker.get("/api/v1/calls/", HTTP_X_API_KEY=guess).status_code == 401

    with django_assert_num_queries(0):  # refused before the key is even looked up
        response = attacker.get("/api/v1/calls/", HTTP_AUTHORIZATION=f"Api-Key {valid}")

    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 300
    error = response.json()["error"]
    assert error["code"] == "throttled"
    assert "Too many failed API-key attempts from 198.51.100.7" in error["message"]
    # another address, and callers without a key, are not concerned
    other = APIClient(REMOTE_ADDR="203.0.113.9")
    assert other.get("/api/v1/calls/", HTTP_X_API_KEY=valid).status_code == 200
    assert attacker.get("/api/v1/calls/").status_code in (401, 403)


def test_the_address_may_try_again_when_the_window_ends(settings, monkeypatch):
    settings.API_KEY_FAILURE_LIMIT = 2
    settings.API_KEY_FAILURE_WINDOW_SECONDS = 60
    clock = [1_000_000.0]
    monkeypatch.setattr(auth, "_clock", lambda: clock[0])
    _, valid = ApiKey.issue(name="CRM", scopes=ApiScope.values)
    attacker = APIClient(REMOTE_ADDR="198.51.100.8")
    for _ in range(2):
        attacker.get("/api/v1/calls/", HTTP_X_API_KEY="wrong")

    clock[0] += 59
    response = attacker.get("/api/v1/calls/", HTTP_X_API_KEY=valid)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "1"

    clock[0] += 1
    assert attacker.get("/api/v1/calls/", HTTP_X_API_KEY=valid).status_code == 200
    # a new window: the count starts again from nothing
    assert attacker.get("/api/v1/calls/", HTTP_X_API_KEY="wrong").status_code == 401
    assert attacker.get("/api/v1/calls/", HTTP_X_API_KEY=valid).status_code == 200


def test_behind_the_proxy_failures_count_against_the_forwarded_address(settings):
    settings.BEHIND_TLS_PROXY = True
    settings.API_KEY_FAILURE_LIMIT = 2
    _, valid = ApiKey.issue(name="CRM", scopes=ApiScope.values)
    proxy = APIClient(REMOTE_ADDR="10.0.0.2")
    for forged in ("1.1.1.1", "2.2.2.2"):
        proxy.get(
            "/api/v1/calls/", HTTP_X_API_KEY="wrong", HTTP_X_FORWARDED_FOR=f"{forged}, 198.51.100.9"
        )

    blocked = proxy.get(
        "/api/v1/calls/", HTTP_X_API_KEY=valid, HTTP_X_FORWARDED_FOR="3.3.3.3, 198.51.100.9"
    )
    allowed = proxy.get("/api/v1/calls/", HTTP_X_API_KEY=valid, HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert (blocked.status_code, allowed.status_code) == (429, 200)
