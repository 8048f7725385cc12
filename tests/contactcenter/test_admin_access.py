"""Admin actions and buttons that change state need a permission that allows changes: a staff
member who may only view runs none of them. The actions and custom admin URLs are read from
the admin site when the tests run, so a new one without a permission makes them fail."""

import functools
from dataclasses import dataclass

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client, RequestFactory
from django.urls import URLPattern, reverse
from django.utils import timezone

from contactcenter.models import ApiKey, ApiScope

pytestmark = pytest.mark.django_db

# Unsaved: an active superuser holds every permission without asking the database.
ENUMERATOR = get_user_model()(username="enumerator", is_superuser=True, is_staff=True)


def _request_as(user):
    request = RequestFactory().get("/admin/")
    request.user = user
    return request


@dataclass(frozen=True)
class AdminAction:
    model: type
    name: str

    def __str__(self) -> str:
        return f"{self.model._meta.label}.{self.name}"


@dataclass(frozen=True)
class AdminUrl:
    model: type
    pattern: URLPattern

    def __str__(self) -> str:
        return f"admin:{self.pattern.name}"

    @property
    def url(self) -> str:
        samples = {"object_id": "1", "id": "1", "import_id": 1}  # need not exist
        kwargs = {name: samples[name] for name in self.pattern.pattern.converters}
        return reverse(f"admin:{self.pattern.name}", kwargs=kwargs)


def admin_actions() -> list[AdminAction]:
    """Every action the admin offers to someone (a superuser sees them all)."""
    return [
        AdminAction(model, name)
        for model, model_admin in admin.site._registry.items()
        for name in model_admin.get_actions(_request_as(ENUMERATOR))
    ]


def custom_admin_urls() -> list[AdminUrl]:
    """Every admin URL a ModelAdmin adds to the standard ones (buttons, JSON endpoints)."""
    found = []
    for model, model_admin in admin.site._registry.items():
        standard = {pattern.name for pattern in admin.ModelAdmin.get_urls(model_admin)}
        found += [
            AdminUrl(model, pattern)
            for pattern in model_admin.get_urls()
            if isinstance(pattern, URLPattern) and pattern.name not in standard
        ]
    return found


ACTIONS = admin_actions()
CUSTOM_URLS = custom_admin_urls()


def staff_client(permissions) -> tuple[Client, object]:
    user = get_user_model().objects.create_user(
        f"staff{get_user_model().objects.count()}", is_staff=True
    )
    user.user_permissions.set(permissions)
    client = Client()
    client.force_login(user)
    return client, get_user_model().objects.get(pk=user.pk)  # fresh: no permission cache


def model_permissions(model):
    return Permission.objects.filter(content_type__app_label=model._meta.app_label).filter(
        content_type__model=model._meta.model_name
    )


def without_writes_on(model):
    """Every permission there is, except those that let one change `model` (view stays)."""
    writes = model_permissions(model).exclude(codename__startswith="view_")
    return Permission.objects.exclude(pk__in=writes)


def test_the_admin_has_actions_and_buttons_to_check():
    names = set(map(str, ACTIONS))
    assert {"contactcenter.ApiKey.revoke", "telephony.WebhookEvent.reprocess"} <= names
    assert {"contactcenter.WebhookDelivery.redeliver", "campaigns.Campaign.start_selected"} <= names
    assert "admin:telephony_phonenumber_sync" in set(map(str, CUSTOM_URLS))


@pytest.mark.parametrize("entry", ACTIONS, ids=str)
def test_each_admin_action_needs_a_permission_that_allows_changes(entry, monkeypatch):
    model_admin = admin.site._registry[entry.model]
    action = model_admin.get_actions(_request_as(ENUMERATOR))[entry.name][0]
    assert set(getattr(action, "allowed_permissions", ())) - {"view"}, (
        f"{entry}: declare permissions= (change, delete, or a has_<name>_permission) on it"
    )

    # given the action replaced by a spy that keeps its declared permissions
    ran = []

    @functools.wraps(action)
    def spy(modeladmin, request, queryset):
        ran.append(request.user.username)

    if hasattr(type(model_admin), entry.name):
        monkeypatch.setattr(type(model_admin), entry.name, spy)
    else:  # a site-wide action (delete_selected)
        monkeypatch.setitem(admin.site._actions, entry.name, spy)
    changelist = reverse(
        f"admin:{entry.model._meta.app_label}_{entry.model._meta.model_name}_changelist"
    )
    form = {"action": entry.name, "_selected_action": ["1"], "select_across": "1"}

    # when staff who may view everything but not change this model try it, it is neither
    # offered nor run
    viewer, viewer_user = staff_client(without_writes_on(entry.model))
    assert entry.name not in model_admin.get_actions(_request_as(viewer_user))
    viewer.post(changelist, form)
    assert ran == []

    # and staff holding the model's permissions run it
    operator, operator_user = staff_client(model_permissions(entry.model))
    assert entry.name in model_admin.get_actions(_request_as(operator_user))
    operator.post(changelist, form)
    assert ran == [operator_user.username]


@pytest.mark.parametrize("entry", CUSTOM_URLS, ids=str)
def test_each_custom_admin_url_refuses_a_write_without_a_permission_that_allows_changes(
    entry, agora
):
    viewer, _ = staff_client(without_writes_on(entry.model))
    operator, _ = staff_client(model_permissions(entry.model))

    # 405: a read-only endpoint (GET only)
    assert viewer.post(entry.url).status_code in (403, 405)
    answer = operator.post(entry.url)
    assert answer.status_code != 403
    assert "/login/" not in answer.get("Location", "")


# -- what the issue found: view-only staff could revoke keys ---------------------------------


def test_view_only_staff_cannot_revoke_a_key_and_staff_who_may_change_can():
    api_key, _ = ApiKey.issue(name="CRM", scopes=[ApiScope.CALLS_READ])
    form = {"action": "revoke", "_selected_action": [api_key.pk]}
    changelist = reverse("admin:contactcenter_apikey_changelist")
    viewer, _ = staff_client(Permission.objects.filter(codename="view_apikey"))

    viewer.post(changelist, form)
    api_key.refresh_from_db()
    assert api_key.is_active

    operator, _ = staff_client(
        Permission.objects.filter(codename__in=["view_apikey", "change_apikey"])
    )
    operator.post(changelist, form)
    api_key.refresh_from_db()
    assert not api_key.is_active
    assert api_key.revoked_at <= timezone.now()
