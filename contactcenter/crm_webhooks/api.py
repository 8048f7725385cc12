"""REST API for CRM webhook subscriptions and their deliveries (see docs/webhooks.md).

The secret is accepted on create/update and returned once, in the answer to the create; after
that it is never shown again (as in the admin).
"""

import django_filters
from django.db import transaction
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from contactcenter.api.auth import model_access, needs
from contactcenter.api.lookups import IntegerIdLookup
from contactcenter.crm_webhooks.models import (
    WEBHOOK_SECRET_MIN_LENGTH,
    WebhookDelivery,
    WebhookDeliveryAttempt,
    WebhookSubscription,
    validate_webhook_secret,
    webhook_secret_new,
)
from contactcenter.crm_webhooks.services import delivery_redeliver
from contactcenter.models import ApiScope


class SubscriptionSerializer(serializers.ModelSerializer):
    # Declared here so that the destination check (a model validator that resolves the host)
    # runs once, in the service's full_clean, rather than also in the serializer.
    url = serializers.URLField(
        max_length=500, help_text=WebhookSubscription._meta.get_field("url").help_text
    )
    secret = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        validators=[validate_webhook_secret],
        help_text=f"HMAC key for the signatures, at least {WEBHOOK_SECRET_MIN_LENGTH} "
        "characters; generated when left out (returned once).",
    )

    class Meta:
        model = WebhookSubscription
        fields = ["id", "name", "url", "event_types", "active", "secret", "created_at"]
        read_only_fields = ["id", "created_at"]

    def validate_url(self, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise serializers.ValidationError("Enter an http:// or https:// URL.")
        return value


class CreatedSubscriptionSerializer(SubscriptionSerializer):
    """The answer to a create: the only time the secret is shown."""

    secret = serializers.CharField(read_only=True)


class AttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookDeliveryAttempt
        fields = ["attempted_at", "status_code", "error", "duration_ms"]


@extend_schema_field({"type": "string", "enum": list(WebhookDelivery.Status.values)})
class DeliveryStatusField(serializers.CharField):
    """Inline enum: another resource's "status" enum would otherwise clash with this one."""


class DeliverySerializer(serializers.ModelSerializer):
    attempt_rows = AttemptSerializer(many=True, read_only=True)
    status = DeliveryStatusField(read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id", "subscription", "event_type", "event_id", "payload", "status", "attempts",
            "next_attempt_at", "last_status_code", "last_error", "created_at", "delivered_at",
            "attempt_rows",
        ]  # fmt: skip
        read_only_fields = fields


@extend_schema(tags=["CRM webhooks"])
class SubscriptionViewSet(IntegerIdLookup, viewsets.ModelViewSet):
    queryset = WebhookSubscription.objects.all()
    serializer_class = SubscriptionSerializer
    http_method_names = ["get", "post", "patch", "delete"]
    access = model_access(
        WebhookSubscription, read=ApiScope.WEBHOOKS_READ, write=ApiScope.WEBHOOKS_ADMIN
    )

    @extend_schema(responses={201: CreatedSubscriptionSerializer})
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        data["secret"] = data.get("secret") or webhook_secret_new()
        subscription = WebhookSubscription(**data)
        subscription.full_clean()
        with transaction.atomic():
            subscription.save()
        return Response(
            CreatedSubscriptionSerializer(subscription).data, status=status.HTTP_201_CREATED
        )

    def perform_update(self, serializer):
        changes = dict(serializer.validated_data)
        if not changes.get("secret"):
            changes.pop("secret", None)  # write-only: empty keeps the current secret
        subscription = serializer.instance
        for field, value in changes.items():
            setattr(subscription, field, value)
        # A secret stored before the length rule is not an error until it is replaced.
        subscription.full_clean(exclude=[] if "secret" in changes else ["secret"])
        subscription.save()


class DeliveryFilter(django_filters.FilterSet):
    status = django_filters.CharFilter(help_text="pending, delivered or failed")

    class Meta:
        model = WebhookDelivery
        fields = ["status", "event_type", "subscription"]


@extend_schema(tags=["CRM webhooks"])
class DeliveryViewSet(
    IntegerIdLookup, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    queryset = WebhookDelivery.objects.select_related("subscription").prefetch_related(
        "attempt_rows"
    )
    serializer_class = DeliverySerializer
    filterset_class = DeliveryFilter
    access = model_access(
        WebhookDelivery, read=ApiScope.WEBHOOKS_READ, write=ApiScope.WEBHOOKS_ADMIN
    ) | {"redeliver": needs(ApiScope.WEBHOOKS_ADMIN, "contactcenter.change_webhookdelivery")}

    @extend_schema(request=None, responses={202: DeliverySerializer})
    @action(detail=True, methods=["post"])
    def redeliver(self, request, pk=None):
        delivery = self.get_object()
        delivery = delivery_redeliver(delivery_id=delivery.pk)
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


def register(router) -> None:
    router.register("webhook-subscriptions", SubscriptionViewSet, basename="webhook-subscription")
    router.register("webhook-deliveries", DeliveryViewSet, basename="webhook-delivery")
