import hmac
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.permissions import BasePermission
from rest_framework.throttling import SimpleRateThrottle

from contactcenter.models import KEY_PREFIX, ApiKey

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
        parts = key.split("_", 2)  # the random part may itself contain "_"
        if len(parts) != 3 or parts[0] != KEY_PREFIX:
            raise exceptions.AuthenticationFailed("Malformed API key.")
        api_key = ApiKey.objects.filter(prefix=parts[1]).first()
        if api_key is None or not hmac.compare_digest(api_key.key_hash, ApiKey.hash(key)):
            raise exceptions.AuthenticationFailed("Invalid API key.")
        if not api_key.is_active:
            raise exceptions.AuthenticationFailed("This API key has been revoked.")
        now = timezone.now()
        if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_GRANULARITY:
            ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        return ApiKeyUser(api_key), api_key

    def authenticate_header(self, request) -> str:
        return self.keyword


class IsApiKeyOrStaff(BasePermission):
    """Integrations (API keys) and staff (admin sessions); other signed-in users may not."""

    message = "An API key or a staff login is needed."

    def has_permission(self, request, view) -> bool:
        if isinstance(request.auth, ApiKey):
            return True
        user = request.user
        return bool(user and user.is_authenticated and user.is_staff)


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
            ident = self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "contactcenter.api.auth.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key <key>`; keys are created in the admin (API keys).",
        }
