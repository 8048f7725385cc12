"""REST API for phone numbers: views parse, call `telephony.services.numbers`, serialize.

The SIP password is write-only: it never leaves.
"""

from drf_spectacular.utils import (
    extend_schema,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from contactcenter.api.auth import model_access, needs
from contactcenter.api.lookups import IntegerIdLookup
from contactcenter.api.schema import outcome_response
from contactcenter.models import ApiScope
from telephony.models import PhoneNumber
from telephony.services.numbers import (
    phone_number_create,
    phone_number_delete,
    phone_number_update,
)
from telephony.tasks import sync_phone_numbers


class PhoneNumberSerializer(serializers.ModelSerializer):
    # Normalised (national input allowed) and checked for duplicates by the service.
    e164 = serializers.CharField(
        max_length=32,
        help_text="E.164, e.g. +14155550100; national numbers use the default region.",
    )
    inbound_allowed_addresses = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False
    )
    outbound_password = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=255,
        trim_whitespace=False,
        style={"input_type": "password"},
        help_text="Write-only: never returned. Empty in an update keeps the stored password "
        "(only while outbound_address stays the same).",
    )
    has_outbound_password = serializers.SerializerMethodField()

    class Meta:
        model = PhoneNumber
        fields = [
            "id",
            "e164",
            "label",
            "provider",
            "inbound",
            "outbound",
            "inbound_allowed_addresses",
            "outbound_address",
            "outbound_transport",
            "outbound_prefix",
            "outbound_user",
            "outbound_password",
            "has_outbound_password",
            "inbound_pipeline_id",
            "outbound_pipeline_id",
            "origin",
            "sync_state",
            "last_error",
            "last_synced_at",
            "differences",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "origin",
            "sync_state",
            "last_error",
            "last_synced_at",
            "differences",
            "created_at",
            "updated_at",
        ]

    def get_has_outbound_password(self, number: PhoneNumber) -> bool:
        return bool(number.outbound_password)


@extend_schema(tags=["phone numbers"])
class PhoneNumberViewSet(
    IntegerIdLookup,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Numbers imported into Agora. Every change is pushed to Agora by a worker."""

    queryset = PhoneNumber.objects.all()
    serializer_class = PhoneNumberSerializer
    filterset_fields = ["sync_state", "provider", "origin"]
    access = model_access(PhoneNumber, read=ApiScope.NUMBERS_READ, write=ApiScope.NUMBERS_WRITE) | {
        "sync": needs(ApiScope.NUMBERS_WRITE, "telephony.change_phonenumber")
    }

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        number = phone_number_create(**serializer.validated_data)
        return Response(self.get_serializer(number).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        number = self.get_object()
        serializer = self.get_serializer(number, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        number = phone_number_update(number=number, **serializer.validated_data)
        return Response(self.get_serializer(number).data)

    @extend_schema(
        responses={204: None, 202: outcome_response("PhoneNumberDeleteOutcome")},
        description="204: deleted at once (never pushed). 202: a worker deletes it in Agora, "
        "then here. 400 with the reasons when it cannot be deleted now.",
    )
    def destroy(self, request, *args, **kwargs):
        number = self.get_object()
        result = phone_number_delete(number=number)
        if result == "deleted":
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(
            {"result": result, "message": f"{number.e164} is being deleted in Agora."},
            status=status.HTTP_202_ACCEPTED,
        )

    @extend_schema(
        request=None,
        responses={202: outcome_response("PhoneNumberSyncOutcome")},
        description="Compare Agora's numbers with ours now (a worker does it).",
    )
    @action(detail=False, methods=["post"])
    def sync(self, request, *args, **kwargs):
        sync_phone_numbers.delay()
        return Response(
            {"result": "queued", "message": "Phone numbers will be compared with Agora's."},
            status=status.HTTP_202_ACCEPTED,
        )
