"""Who may call the API and what each caller may do: API keys (scopes) and staff sessions
(Django model permissions), per action, with one permission class for every route."""

import functools
import hmac
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_permission_codename
from django.core.cache import cache
from django.db.models import Model
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.permissions import BasePermission
from rest_framework.throttling import SimpleRateThrottle

from contactcenter.clientip import client_address
from contactcenter.models import KEY_PREFIX, ApiKey, ApiScope

LAST_USED_GRANULARITY = timedelta(minutes=1)  # at most one write per key per minute


class ApiKeyUser:
    """The caller behind an API key: authenticated, not staff, not a Django user."""

    is_authenticated = True
    is_active = True
    is_staff = False
    is_superuser = False
    is_anonymous = False

    def __init__(self, api_key: ApiKey) -> None:
        self.api_key = api_key
        self.pk = self.id = None
        self.username = f"api-key:{api_key.prefix}"

    def __str__(self) -> str:
        return self.username


# -- failed API-key authentication, counted per client address -------------------------------
# A window opens at an address's first failure and lasts API_KEY_FAILURE_WINDOW_SECONDS; past
# API_KEY_FAILURE_LIMIT failures in it, the address is refused until it ends. The counters live
# in the cache (Redis in production: shared by every web process).

_FAILURES = "api-key-failures:{}"
_WINDOW_ENDS = "api-key-failures-until:{}"


def _clock() -> float:
    return time.time()


def api_key_failures_wait(address: str) -> int | None:
    """Seconds until `address` may present a key again, or None when it may now."""
    values = cache.get_many([_FAILURES.format(address), _WINDOW_ENDS.format(address)])
    ends = values.get(_WINDOW_ENDS.format(address))
    now = _clock()
    if ends is None or now >= ends:
        return None
    if values.get(_FAILURES.format(address), 0) < settings.API_KEY_FAILURE_LIMIT:
        return None
    return max(1, math.ceil(ends - now))


def api_key_failure_record(address: str) -> None:
    window = settings.API_KEY_FAILURE_WINDOW_SECONDS
    count_key, ends_key = _FAILURES.format(address), _WINDOW_ENDS.format(address)
    now = _clock()
    ends = cache.get(ends_key)
    if ends is None or now >= ends:  # a new window (a racing request may open it too: harmless)
        cache.set_many({ends_key: now + window, count_key: 0}, timeout=window + 60)
    try:
        cache.incr(count_key)
    except ValueError:  # expired in between
        cache.set(count_key, 1, timeout=window + 60)


def api_key_failures_clear(address: str) -> None:
    cache.delete_many([_FAILURES.format(address), _WINDOW_ENDS.format(address)])


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Api-Key <key>` (or the `X-Api-Key` header)."""

    keyword = "Api-Key"

    def authenticate(self, request):
        key = request.META.get("HTTP_X_API_KEY")
        header = authentication.get_authorization_header(request).decode("latin-1")
        if header.startswith(f"{self.keyword} "):
            key = header[len(self.keyword) + 1 :].strip()
        if not key:
            return None
        address = client_address(request) or "unknown"
        wait = api_key_failures_wait(address)
        if wait is not None:  # before the key is even looked at
            raise exceptions.Throttled(
                wait=wait,
                detail=f"Too many failed API-key attempts from {address}: try again in {wait} s.",
            )
        try:
            api_key = self._check(key)
        except exceptions.AuthenticationFailed:
            api_key_failure_record(address)
            raise
        now = timezone.now()
        if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_GRANULARITY:
            ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        return ApiKeyUser(api_key), api_key

    @staticmethod
    def _check(key: str) -> ApiKey:
        parts = key.split("_", 2)  # the random part may itself contain "_"
        if len(parts) != 3 or parts[0] != KEY_PREFIX:
            raise exceptions.AuthenticationFailed("Malformed API key.")
        api_key = ApiKey.objects.filter(prefix=parts[1]).first()
        if api_key is None or not hmac.compare_digest(api_key.key_hash, ApiKey.hash(key)):
            raise exceptions.AuthenticationFailed("Invalid API key.")
        if not api_key.is_active:
            raise exceptions.AuthenticationFailed("This API key has been revoked.")
        return api_key

    def authenticate_header(self, request) -> str:
        return self.keyword


@dataclass(frozen=True)
class Access:
    """What one API action needs: `scope` from an API key; every one of `permissions` from a
    staff session (superusers hold them all). A `scope` of None admits any valid key (only the
    schema and its docs)."""

    scope: str | None
    permissions: tuple[str, ...] = ()


def needs(scope: str, *permissions: str) -> Access:
    return Access(scope=str(scope), permissions=permissions)  # str: from ApiScope members


def model_access(model: type[Model], *, read: str, write: str) -> dict[str, Access]:
    """The standard actions of a model's viewset: reads need `read` and view_<model>; create,
    update and destroy need `write` and add/change/delete_<model>. A viewset adds its custom
    actions one by one: an action missing from its map is refused."""
    opts = model._meta

    def permission(action: str) -> str:
        return f"{opts.app_label}.{get_permission_codename(action, opts)}"

    read_access = needs(read, permission("view"))
    return {
        "list": read_access,
        "retrieve": read_access,
        "metadata": read_access,  # OPTIONS: describes the fields
        "create": needs(write, permission("add")),
        "update": needs(write, permission("change")),
        "partial_update": needs(write, permission("change")),
        "destroy": needs(write, permission("delete")),
    }


ANY_CALLER = Access(scope=None)


def required_access(view) -> Access | None:
    """The view's rule for the action at hand: its `access` (one Access, or a map by action)."""
    rules = getattr(view, "access", None)
    if isinstance(rules, Access):
        return rules
    if isinstance(rules, Mapping):
        return rules.get(getattr(view, "action", None))
    return None


def staff_has_permission(user, permission: str) -> bool:
    """As in the admin, the change permission also lets one view."""
    if user.has_perm(permission):
        return True
    app_label, _, codename = permission.partition(".")
    return codename.startswith("view_") and user.has_perm(
        f"{app_label}.change_{codename.removeprefix('view_')}"
    )


@functools.cache
def scope_permissions() -> dict[str, frozenset[str]]:
    """Every staff permission the routes of each scope need, read from the viewsets' rules."""
    from contactcenter.api.urls import router

    needed: dict[str, set[str]] = {scope: set() for scope in ApiScope.values}
    for _prefix, viewset, _basename in router.registry:
        rules = getattr(viewset, "access", None)
        if isinstance(rules, Access):
            rules = {"": rules}
        for action, access in (rules or {}).items():
            routed = not action or action == "metadata" or hasattr(viewset, action)
            if routed and access.scope is not None:  # model_access also names absent actions
                needed[access.scope].update(access.permissions)
    return {scope: frozenset(permissions) for scope, permissions in needed.items()}


def scopes_missing_permissions(user, scopes) -> dict[str, list[str]]:
    """The scopes among `scopes` that `user` may not grant, with the permissions they lack: a
    key may do only what the staff member who gives it could do in person."""
    missing = {}
    for scope in scopes:
        lacking = [
            permission
            for permission in sorted(scope_permissions().get(scope, ()))
            if not staff_has_permission(user, permission)
        ]
        if lacking:
            missing[scope] = lacking
    return missing


class MissingScope(exceptions.PermissionDenied):
    default_code = "missing_scope"


class MissingPermission(exceptions.PermissionDenied):
    default_code = "missing_permission"


class NoAccessRule(exceptions.PermissionDenied):
    default_code = "no_access_rule"


class ApiAccessPermission(BasePermission):
    """The API's one permission check (REST_FRAMEWORK's default). API keys need the scope the
    action declares; staff sessions need its Django model permissions; other signed-in users
    are refused. An action that declares no rule is refused (fail closed)."""

    message = "An API key or a staff login is needed."

    def has_permission(self, request, view) -> bool:
        api_key = request.auth if isinstance(request.auth, ApiKey) else None
        user = request.user
        if api_key is None and not (
            user and user.is_authenticated and user.is_active and user.is_staff
        ):
            return False  # 401 without credentials, 403 for a user who is not staff
        access = required_access(view)
        if access is None:
            if getattr(view, "action", "") is None:  # a method this route does not have
                raise exceptions.MethodNotAllowed(request.method)
            raise NoAccessRule("This route declares no access rule, so it is refused.")
        if api_key is not None:
            if access.scope is not None and not api_key.has_scope(access.scope):
                raise MissingScope(
                    f"This API key lacks the scope '{access.scope}', which this request needs."
                )
            return True
        missing = [perm for perm in access.permissions if not staff_has_permission(user, perm)]
        if missing:
            raise MissingPermission(
                f"You lack the permission {', '.join(repr(perm) for perm in missing)}, "
                "which this request needs."
            )
        return True


class ApiKeyRateThrottle(SimpleRateThrottle):
    """Requests per key (staff sessions: per user), rate from settings (scope "api_key")."""

    scope = "api_key"

    def get_rate(self) -> str:
        return settings.API_RATE_PER_KEY  # read per request, so it can be changed in settings

    def get_cache_key(self, request, view):
        if isinstance(request.auth, ApiKey):
            ident = f"key-{request.auth.prefix}"  # random per key: counters never collide
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = client_address(request) or "unknown"  # our proxy rule, not DRF's
        return self.cache_format % {"scope": self.scope, "ident": ident}


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "contactcenter.api.auth.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        catalogue = "\n".join(f"- `{scope.value}`: {scope.label}" for scope in ApiScope)
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key <key>`; keys are created in the admin (API keys), each "
            "with its scopes. Every operation needs one scope (`x-required-scope`, also named "
            "in its description); without it the answer is 403 `missing_scope`. Staff "
            "sessions need the Django permissions in `x-required-permissions` instead.\n\n"
            f"Scopes:\n{catalogue}",
        }
