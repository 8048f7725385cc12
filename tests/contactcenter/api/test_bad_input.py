"""Bad input to the API is a clean 4xx with the error body, never a 500: deeply nested JSON
bodies, ids that are not ids (in paths and in filters)."""

import json
import re
from collections import defaultdict

import pytest
from django.urls import URLPattern

from campaigns.models import ContactList
from contactcenter.api.urls import router

pytestmark = pytest.mark.django_db

NOT_AN_INTEGER = [
    "abc",
    "1.5",
    "-1",
    "1e3",
    "0x1f",
    "%201",  # " 1"
    "9223372036854775808",  # bigint's maximum + 1
    "99999999999999999999999999999999",
]
NOT_A_UUID = ["abc", "1.5", "12345678-1234-1234-1234-1234567890123", "0" * 33, "1"]


def nested(depth: int) -> list:
    value: list = []
    for _ in range(depth - 1):
        value = [value]
    return value


def assert_error_body(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json"), response.content[:300]
    error = response.json()["error"]
    assert set(error) >= {"code", "message", "fields"}
    if code:
        assert error["code"] == code, error
    return error


# -- deeply nested JSON bodies ----------------------------------------------------------------


DEEP_TARGETS = [
    ("post", "/api/v1/contact-lists/"),
    ("post", "/api/v1/calls/"),
    ("post", "/api/v1/campaigns/"),
    ("post", "/api/v1/webhook-subscriptions/"),
    ("post", "/api/v1/contact-lists/{list}/contacts/bulk/"),
    ("patch", "/api/v1/agents/{agent}/"),
]


@pytest.mark.parametrize(("method", "path"), DEEP_TARGETS)
@pytest.mark.parametrize("depth", [33, 100_000])
def test_deeply_nested_json_bodies_are_a_400_naming_the_problem(
    api_client, agent_profile, method, path, depth
):
    contact_list = ContactList.objects.create(name="Customers")
    url = path.format(list=contact_list.pk, agent=agent_profile.pk)
    body = "[" * depth + "]" * depth

    response = getattr(api_client, method)(url, data=body, content_type="application/json")

    error = assert_error_body(response, 400, "parse_error")
    assert "nested deeper than 32 levels" in error["message"]


def test_json_nested_to_the_limit_is_accepted_and_stored(api_client):
    contact_list = ContactList.objects.create(name="Customers")
    variables = {"deep": nested(28)}  # 29 levels; the body adds 3 ({contacts: [{...}]})
    body = {"contacts": [{"phone": "+14155550100", "variables": variables}]}

    response = api_client.post(
        f"/api/v1/contact-lists/{contact_list.pk}/contacts/bulk/", body, format="json"
    )

    assert response.status_code == 200, response.json()
    assert response.json()["created"] == 1
    assert contact_list.contacts.get().variables == variables


def test_a_deep_json_string_in_a_form_encoded_body_is_a_400(api_client, agent_profile):
    before = agent_profile.properties

    response = api_client.patch(
        f"/api/v1/agents/{agent_profile.pk}/",
        data=f"properties={'[' * 100_000}{']' * 100_000}",
        content_type="application/x-www-form-urlencoded",
    )

    error = assert_error_body(response, 400)
    assert "properties" in error["fields"]
    agent_profile.refresh_from_db()
    assert agent_profile.properties == before


# -- ids that are not ids ---------------------------------------------------------------------


def detail_routes() -> list[tuple[str, str, list[str]]]:
    """(basename, route with {pk}, HTTP methods) of every router route that takes an id."""
    routes = []
    for pattern in router.urls:
        assert isinstance(pattern, URLPattern)
        regex = str(pattern.pattern)
        if "<format>" in regex or "(?P<" not in regex:
            continue
        route = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", regex.lstrip("^").rstrip("$"))
        allowed = pattern.callback.cls.http_method_names
        methods = sorted(
            method
            for method in pattern.callback.actions
            if method in allowed and method not in ("head", "options")  # no body to check
        )
        routes.append((pattern.name, "/api/v1/" + route.replace("\\.", "."), methods))
    return routes


def test_every_id_route_is_walked():
    names = {name for name, _, _ in detail_routes()}
    for _, viewset, basename in router.registry:
        if hasattr(viewset, "retrieve"):  # not a viewset of actions only (campaign results)
            assert f"{basename}-detail" in names
    assert {
        "campaign-start", "campaign-pause", "campaign-resume", "campaign-cancel", "campaign-stats",
        "contact-list-bulk", "call-hangup", "webhook-delivery-redeliver",
    } <= names  # fmt: skip


def test_bad_ids_in_paths_are_a_404_with_the_error_body(api_client):
    checked = 0
    for name, route, methods in detail_routes():
        if name.startswith("do-not-call"):
            continue  # keyed by phone number: a bad number is a 400 (tests/contactcenter/api)
        bad_values = NOT_A_UUID if name.startswith("call-") else NOT_AN_INTEGER
        for value in bad_values:
            # Other ids in the path (a campaign's contact) are bad the same way.
            url = route.format_map(defaultdict(lambda bad=value: bad, pk=value))
            for method in methods:
                response = getattr(api_client, method)(url, data={}, format="json")
                error = assert_error_body(response, 404, "not_found")
                assert error["fields"] == {}, (method, url)
                checked += 1
    assert checked > 150


def test_unknown_api_paths_answer_the_error_body(api_client):
    assert_error_body(api_client.get("/api/v1/no-such-thing/"), 404, "not_found")
    assert_error_body(api_client.post("/api/v1/campaigns/1.5/start/"), 404, "not_found")


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/api/v1/calls/", "campaign"),
        ("/api/v1/contacts/", "contact_list"),
        ("/api/v1/webhook-deliveries/", "subscription"),
    ],
)
@pytest.mark.parametrize("value", ["abc", "1.5", "-1", "1e400", "99999999999999999999999999"])
def test_bad_ids_in_filters_are_a_400_naming_the_filter(api_client, path, name, value):
    response = api_client.get(path, {name: value})

    error = assert_error_body(response, 400, "invalid")
    assert name in error["fields"], json.dumps(error)


def test_the_schema_still_documents_integer_ids(staff_client):
    document = staff_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()

    for path in ("/api/v1/campaigns/{id}/start/", "/api/v1/contacts/{id}/"):
        (operation,) = [op for op in document["paths"][path].values() if "parameters" in op][:1]
        (param,) = [p for p in operation["parameters"] if p["in"] == "path"]
        assert param["schema"]["type"] == "integer", (path, param)


@pytest.mark.parametrize("reference", ["²", "١٢", "99999999999999999999999"])
def test_digit_like_references_to_a_number_or_agent_are_a_400(
    api_client, caller_number, agent_profile, reference
):
    # str.isdigit() accepts superscripts and other scripts' digits that int() refuses.
    for field in ("caller_id", "agent"):
        body = {"to_number": "+14155550150", "caller_id": caller_number.e164,
                "agent": agent_profile.name, field: reference}  # fmt: skip
        answer = api_client.post("/api/v1/calls/", body, format="json")
        assert answer.status_code == 400, (field, answer.content)
        assert field in answer.json()["error"]["fields"]
