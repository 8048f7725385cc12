"""Authorization on every API route: API keys need the route's scope, staff sessions its model
permissions. The routes are read from the router (and checked against the schema) when the
tests run, so a new route or action without a declared rule makes them fail."""

import re
from dataclasses import dataclass
from urllib.parse import unquote

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.test import APIClient, APIRequestFactory, force_authenticate

from campaigns.models import DoNotCall
from contactcenter.api.auth import Access, needs, required_access
from contactcenter.api.urls import router
from contactcenter.crm_webhooks.models import WebhookSubscription
from contactcenter.models import ApiKey, ApiScope
from telephony.models import Call

pytestmark = pytest.mark.django_db

LOOKUP_SAMPLES = {"phone": "+14155550199"}  # any other lookup (pk): "1"


@dataclass(frozen=True)
class ApiRoute:
    method: str
    url: str  # with a sample lookup value
    template: str  # as in the schema: /api/v1/calls/{id}/
    viewset: type
    action: str

    def __str__(self) -> str:
        return f"{self.method} {self.template}"

    @property
    def access(self) -> Access | None:
        view = self.viewset()
        view.action = self.action
        return required_access(view)


def api_routes() -> list[ApiRoute]:
    """Every (method, path) the v1 router serves, with the viewset action behind it."""
    found = []
    for _prefix, viewset, basename in router.registry:
        lookup = viewset.lookup_url_kwarg or viewset.lookup_field
        for route in router.get_routes(viewset):
            methods = router.get_method_map(viewset, route.mapping)
            if not methods:
                continue  # a viewset with actions only (a campaign's results): no list route
            name = route.name.format(basename=basename)
            # Path parameters of an action's own (contacts/{contact_id}/callback/).
            extra = set(re.findall(r"\(\?P<(\w+)>", route.url)) - {lookup, "format"}
            sample = {lookup: LOOKUP_SAMPLES.get(lookup, "1")} if route.detail else {}
            sample |= dict.fromkeys(extra, "1")
            # drf-spectacular names a pk path parameter "id".
            placeholder = {lookup: "{id}" if lookup == "pk" else f"{{{lookup}}}"}
            placeholder |= {name: f"{{{name}}}" for name in extra}
            template = unquote(reverse(name, kwargs=placeholder if route.detail else {}))
            for method, view_action in methods.items():
                if method not in viewset.http_method_names:
                    continue  # routed, but the viewset answers 405
                found.append(
                    ApiRoute(method.upper(), reverse(name, kwargs=sample), template, viewset,
                             view_action)
                )  # fmt: skip
    return found


ROUTES = api_routes()


def satisfying(permission: str) -> set[str]:
    """The permissions that grant `permission` (change grants view, as in the admin)."""
    app_label, codename = permission.split(".")
    if codename.startswith("view_"):
        return {permission, f"{app_label}.change_{codename.removeprefix('view_')}"}
    return {permission}


def all_permissions() -> set[str]:
    return {
        f"{app_label}.{codename}"
        for app_label, codename in Permission.objects.values_list(
            "content_type__app_label", "codename"
        )
    }


def send(client: APIClient, route: ApiRoute):
    body = {} if route.method in ("POST", "PUT", "PATCH") else None
    return client.generic(
        route.method, route.url, data="{}" if body is not None else "",
        content_type="application/json",
    )  # fmt: skip


def test_the_router_serves_every_resource():
    assert len(ROUTES) >= 45
    assert {"POST /api/v1/calls/", "POST /api/v1/campaigns/{id}/start/"} <= set(map(str, ROUTES))


def test_every_route_declares_a_scope_from_the_catalogue_and_real_permissions():
    existing = all_permissions()
    for route in ROUTES:
        access = route.access
        assert access is not None, f"{route} declares no access rule"
        assert access.scope in ApiScope.values, route
        assert access.permissions and set(access.permissions) <= existing, route


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_each_route_needs_its_scope_and_its_permission(route, key_client, staff_with, redis_db):
    access = route.access
    assert access is not None, f"{route} declares no access rule"

    # given a key holding every other scope, and staff holding every other permission
    other_scopes = [scope for scope in ApiScope.values if scope != access.scope]
    granting = set().union(*(satisfying(perm) for perm in access.permissions))
    other_permissions = all_permissions() - granting

    # then both are refused, each told what is missing
    refused = send(key_client(other_scopes), route)
    assert refused.status_code == 403, (route, refused.status_code)
    assert refused.json()["error"]["code"] == "missing_scope"
    assert f"'{access.scope}'" in refused.json()["error"]["message"]
    refused = send(staff_with(other_permissions), route)
    assert refused.status_code == 403, (route, refused.status_code)
    assert refused.json()["error"]["code"] == "missing_permission"
    assert access.permissions[0] in refused.json()["error"]["message"]

    # and a key with that scope alone, or staff with those permissions alone, get past
    # authorization (the sample ids do not exist, so 404 and 400 are expected answers)
    allowed = send(key_client([access.scope]), route)
    assert allowed.status_code not in (401, 403, 405), (route, allowed.status_code)
    allowed = send(staff_with(access.permissions), route)
    assert allowed.status_code not in (401, 403, 405), (route, allowed.status_code)


def test_the_schema_documents_every_route_and_the_access_it_needs(staff_client):
    schema = staff_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    documented = {
        f"{method.upper()} {path}": operation
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
    }
    by_name = {str(route): route for route in ROUTES}
    assert set(documented) == set(by_name)
    for name, operation in documented.items():
        access = by_name[name].access
        assert operation["x-required-scope"] == access.scope, name
        assert operation["x-required-permissions"] == list(access.permissions), name
        assert f"scope `{access.scope}`" in operation["description"], name
    catalogue = schema["components"]["securitySchemes"]["ApiKey"]["description"]
    assert all(f"`{scope}`" in catalogue for scope in ApiScope.values)


# -- what the issue found ---------------------------------------------------------------------


def test_staff_without_permissions_can_neither_call_nor_unblock_nor_subscribe(
    staff_with, caller_number, agent_profile
):
    DoNotCall.objects.create(phone="+14155550199", reason="asked")
    client = staff_with([])

    call = client.post(
        "/api/v1/calls/",
        {"to_number": "+14155550150", "caller_id": caller_number.pk, "agent": agent_profile.pk},
        format="json",
    )
    unblock = client.delete("/api/v1/do-not-call/+14155550199/")
    subscribe = client.post(
        "/api/v1/webhook-subscriptions/",
        {"name": "x", "url": "https://crm.example/h", "event_types": ["call.completed"]},
        format="json",
    )

    assert (call.status_code, unblock.status_code, subscribe.status_code) == (403, 403, 403)
    assert "'telephony.add_call'" in call.json()["error"]["message"]
    assert not Call.objects.exists()
    assert DoNotCall.objects.filter(phone="+14155550199").exists()
    assert not WebhookSubscription.objects.exists()


def test_a_key_without_the_scope_is_refused_and_told_which(key_client, caller_number):
    client = key_client([ApiScope.CALLS_READ])

    response = client.post("/api/v1/calls/", {"to_number": "+14155550150"}, format="json")

    assert response.status_code == 403
    assert response.json() == {
        "error": {
            "code": "missing_scope",
            "message": "This API key lacks the scope 'calls:write', which this request needs.",
            "fields": {},
        }
    }
    assert not Call.objects.exists()
    assert client.get("/api/v1/calls/").status_code == 200


def test_staff_permissions_as_in_the_admin(staff_with, django_user_model):
    # change includes view
    assert staff_with(["telephony.change_call"]).get("/api/v1/calls/").status_code == 200
    assert staff_with(["telephony.add_call"]).get("/api/v1/calls/").status_code == 403
    # superusers hold every permission, but must still be staff
    superuser = django_user_model.objects.create_superuser("root", password="x")
    client = APIClient()
    client.force_login(superuser)
    assert client.get("/api/v1/webhook-subscriptions/").status_code == 200
    django_user_model.objects.filter(pk=superuser.pk).update(is_staff=False)
    assert client.get("/api/v1/webhook-subscriptions/").status_code == 403


def test_a_method_a_route_does_not_have_is_405_for_an_authorized_caller(api_client):
    assert api_client.put("/api/v1/calls/", {}, format="json").status_code == 405
    assert api_client.delete("/api/v1/calls/").status_code == 405


# -- fail closed ------------------------------------------------------------------------------


class HalfDeclared(viewsets.ViewSet):
    access = {"list": needs(ApiScope.CALLS_READ, "telephony.view_call")}

    def list(self, request):
        return Response([])

    @action(detail=False, methods=["post"])
    def surprise(self, request):
        return Response({"ran": True})


class Undeclared(viewsets.ViewSet):
    def list(self, request):
        return Response([])


def test_an_action_without_a_declared_rule_is_refused_even_to_everything(django_user_model):
    _, key = ApiKey.issue(name="all", scopes=ApiScope.values)
    factory = APIRequestFactory()
    with_key = {"HTTP_AUTHORIZATION": f"Api-Key {key}"}
    as_root = factory.post("/x/")
    force_authenticate(as_root, user=django_user_model.objects.create_superuser("root"))

    listed = HalfDeclared.as_view({"get": "list"})(factory.get("/x/", **with_key))
    refused = [
        HalfDeclared.as_view({"post": "surprise"})(factory.post("/x/", **with_key)),
        HalfDeclared.as_view({"post": "surprise"})(as_root),
        Undeclared.as_view({"get": "list"})(factory.get("/x/", **with_key)),
    ]

    assert listed.status_code == 200
    for response in refused:
        assert response.status_code == 403
        assert response.data["error"]["code"] == "no_access_rule"


# -- keys issued before scopes ----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_keys_issued_before_scopes_keep_every_scope_they_effectively_had():
    before, after = ("contactcenter", "0001_initial"), ("contactcenter", "0002_api_key_scopes")
    executor = MigrationExecutor(connection)
    executor.migrate([before])
    old_apps = executor.loader.project_state([before]).apps
    old_apps.get_model("contactcenter", "ApiKey").objects.create(
        name="legacy", prefix="abcd1234", key_hash="0" * 64
    )

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([after])
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    # every scope there was then; a power added since (calls:control) is not given to old keys
    added_since = {ApiScope.CALLS_CONTROL}
    assert ApiKey.objects.get(prefix="abcd1234").scopes == [
        scope for scope in ApiScope.values if scope not in added_since
    ]
    assert ApiKey.issue(name="new", scopes=[ApiScope.DNC_READ])[0].scopes == ["dnc:read"]


def test_unknown_scopes_are_refused_when_issuing():
    with pytest.raises(ValidationError, match="Unknown scope"):
        ApiKey.issue(name="typo", scopes=["calls:reed"])
    assert not ApiKey.objects.exists()
