"""The API's OpenAPI schema class (drf-spectacular's, plus each operation's access rule) and the
response shapes every resource shares: the error body, a short outcome.

Apart from auth.py because drf-spectacular's AutoSchema module reads the REST framework
settings on import, and those name the authentication class defined there."""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers

from contactcenter.api.auth import required_access


class AccessAutoSchema(AutoSchema):
    """Each operation documents its access rule: `x-required-scope`, `x-required-permissions`
    and a line in its description. (OpenAPI 3.0 allows scopes in a security requirement only
    for OAuth2 and OpenID Connect schemes, so they are not listed there.)"""

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        access = required_access(self.view)
        if operation is None or access is None or access.scope is None:
            return operation
        permissions = ", ".join(f"`{perm}`" for perm in access.permissions)
        line = (
            f"Needs the API key scope `{access.scope}` (staff sessions: the permission "
            f"{permissions})."
        )
        description = operation.get("description", "")
        operation["description"] = f"{description}\n\n{line}" if description else line
        operation["x-required-scope"] = access.scope
        operation["x-required-permissions"] = list(access.permissions)
        return operation


# The body of every error answer (contactcenter.api.errors).
ERROR_RESPONSE = inline_serializer(
    "ErrorResponse",
    {
        "error": inline_serializer(
            "ErrorBody",
            {
                "code": serializers.CharField(),
                "message": serializers.CharField(),
                "fields": serializers.DictField(child=serializers.ListField()),
                "messages": serializers.ListField(child=serializers.CharField(), required=False),
            },
        )
    },
)


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """Document these status codes as answered with the error body."""
    return {code: OpenApiResponse(ERROR_RESPONSE) for code in codes}


def outcome_response(name: str):
    """An action's answer: `{"result": ..., "message": ...}`, named `name` in the schema."""
    return inline_serializer(
        name=name, fields={"result": serializers.CharField(), "message": serializers.CharField()}
    )
