"""REST API for the do-not-call list: add, remove, check and list numbers.

Writes go through `campaigns.services.dnc` (`dnc_add`, `dnc_remove`), as in the admin.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from campaigns.models import DoNotCall
from campaigns.services.dnc import dnc_add, dnc_contains, dnc_remove
from contactcenter.api.auth import model_access, needs
from contactcenter.api.errors import error_response
from contactcenter.api.schema import error_responses
from contactcenter.models import ApiScope
from telephony.validators import normalize_phone_number


class DoNotCallSerializer(serializers.ModelSerializer):
    class Meta:
        model = DoNotCall
        fields = ("phone", "reason", "source", "created_at")
        read_only_fields = ("source", "created_at")
        extra_kwargs = {"phone": {"validators": []}}  # adding again is allowed (idempotent)

    def validate_phone(self, value: str) -> str:
        try:
            return normalize_phone_number(value)
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.messages) from None


class DncCheckSerializer(serializers.Serializer):
    phone = serializers.CharField()
    blocked = serializers.BooleanField()


class DncPhoneParamSerializer(serializers.Serializer):
    phone = serializers.CharField()

    def validate_phone(self, value: str) -> str:
        try:
            return normalize_phone_number(value)
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.messages) from None


PHONE_PATH = OpenApiParameter(
    "phone",
    str,
    OpenApiParameter.PATH,
    description="E.164 (+14155550100) or national (415 555 0100, in PHONE_DEFAULT_REGION).",
)


@extend_schema_view(
    list=extend_schema(summary="List the do-not-call numbers"),
    create=extend_schema(
        summary="Add a number to the do-not-call list",
        description="Idempotent: 201 when added, 200 when it was already listed. Waiting "
        "campaign contacts of the number are taken out of their campaigns.",
        responses={201: DoNotCallSerializer, 200: DoNotCallSerializer, **error_responses(400)},
    ),
    destroy=extend_schema(
        summary="Remove a number from the do-not-call list",
        parameters=[PHONE_PATH],
        responses={204: None, **error_responses(400, 404)},
    ),
)
@extend_schema(tags=["do-not-call"])
class DoNotCallViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = DoNotCallSerializer
    queryset = DoNotCall.objects.all()
    lookup_field = "phone"
    lookup_value_regex = "[^/]+"
    filterset_fields = ("source",)
    access = model_access(DoNotCall, read=ApiScope.DNC_READ, write=ApiScope.DNC_WRITE) | {
        "check": needs(ApiScope.DNC_READ, "campaigns.view_donotcall"),
    }

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        phone = serializer.validated_data["phone"]
        existed = DoNotCall.objects.filter(phone=phone).exists()
        entry = dnc_add(
            phone=phone,
            reason=serializer.validated_data.get("reason", ""),
            source=DoNotCall.Source.API,
        )
        code = status.HTTP_200_OK if existed else status.HTTP_201_CREATED
        return Response(self.get_serializer(entry).data, status=code)

    def destroy(self, request, *args, **kwargs):
        param = DncPhoneParamSerializer(data={"phone": kwargs.get("phone", "")})
        param.is_valid(raise_exception=True)
        if not dnc_remove(phone=param.validated_data["phone"]):
            return error_response(
                "not_found",
                f"{param.validated_data['phone']} is not on the do-not-call list.",
                status_code=status.HTTP_404_NOT_FOUND,
            )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Is a number on the do-not-call list?",
        parameters=[
            OpenApiParameter("phone", str, required=True, description="E.164 or national.")
        ],
        responses={200: DncCheckSerializer, **error_responses(400)},
    )
    @action(detail=False, methods=["get"], filter_backends=[], pagination_class=None)
    def check(self, request):
        param = DncPhoneParamSerializer(data={"phone": request.query_params.get("phone", "")})
        param.is_valid(raise_exception=True)
        phone = param.validated_data["phone"]
        return Response({"phone": phone, "blocked": dnc_contains(phone)})
