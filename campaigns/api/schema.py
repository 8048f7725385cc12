"""OpenAPI pieces shared by the campaigns API's resources."""

from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers

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
    return {code: OpenApiResponse(ERROR_RESPONSE) for code in codes}
