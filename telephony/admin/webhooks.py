"""The webhook event log: what Agora sent, whether it was processed, and reprocessing."""

import json

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from contactcenter.admin_display import BadgeKind, status_badge
from contactcenter.paginators import LargeTablePaginator
from telephony.agora.webhooks import EventType
from telephony.models import WebhookEvent
from telephony.services.webhooks import webhook_reprocess


class EventTypeFilter(admin.SimpleListFilter):
    title = "event type"
    parameter_name = "event_type"

    def lookups(self, request, model_admin):
        return [(str(code.value), f"{code.value} {code.label}") for code in EventType]

    def queryset(self, request, queryset):
        return queryset.filter(event_type=self.value()) if self.value() else queryset


class ProcessedFilter(admin.SimpleListFilter):
    title = "processed"
    parameter_name = "processed"

    def lookups(self, request, model_admin):
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(processed_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(processed_at__isnull=True)
        return queryset


class SignatureFilter(admin.SimpleListFilter):
    """The signature versions Agora sends (not read from the table: a DISTINCT over every
    event)."""

    title = "signature version"
    parameter_name = "signature_version"

    def lookups(self, request, model_admin):
        return [("v2", "v2 (HMAC-SHA256)"), ("v1", "v1 (HMAC-SHA1)")]

    def queryset(self, request, queryset):
        return queryset.filter(signature_version=self.value()) if self.value() else queryset


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    list_display = (
        "notice_id", "event_type_display", "status_badge", "agent_id", "call_link",
        "deliveries", "received_at", "processed_at",
    )  # fmt: skip
    list_filter = (
        EventTypeFilter, "status", ProcessedFilter, ("received_at", admin.DateFieldListFilter),
        SignatureFilter,
    )  # fmt: skip
    search_fields = ("notice_id", "agent_id")
    list_select_related = ("call",)
    # A table that grows without end: no date hierarchy, one count, estimated when unfiltered.
    paginator = LargeTablePaginator
    show_full_result_count = False
    list_per_page = 100
    actions = ("reprocess",)
    readonly_fields = (
        "notice_id", "event_type_display", "status", "call_link", "agent_id", "product_id",
        "notify_ms", "sid", "signature_version", "deliveries", "attempts", "last_error",
        "received_at", "processed_at", "payload_json",
    )  # fmt: skip
    exclude = ("body", "call", "event_type")

    def has_add_permission(self, request):
        return False  # events come only from Agora

    def has_change_permission(self, request, obj=None):
        return False  # the log is read-only; "reprocess" is the one thing staff can do

    @admin.display(description="event type", ordering="event_type")
    def event_type_display(self, event: WebhookEvent) -> str:
        return f"{event.event_type} {event.event_type_label}"

    @admin.display(description="status", ordering="status")
    def status_badge(self, event: WebhookEvent) -> str:
        return status_badge(BadgeKind.WEBHOOK_EVENT, event.status, event.get_status_display())

    @admin.display(description="call")
    def call_link(self, event: WebhookEvent) -> str:
        if event.call_id is None:
            return "-"
        url = reverse("admin:telephony_call_change", args=[event.call_id])
        return format_html('<a href="{}">{}</a>', url, event.call_id)

    @admin.display(description="notification")
    def payload_json(self, event: WebhookEvent) -> str:
        return format_html("<pre>{}</pre>", json.dumps(event.body, indent=2, sort_keys=True))

    def has_reprocess_permission(self, request) -> bool:
        """The change permission, which the read-only page itself never grants."""
        return request.user.has_perm("telephony.change_webhookevent")

    @admin.action(description="Reprocess selected events", permissions=["reprocess"])
    def reprocess(self, request, queryset):
        outcomes: dict[str, int] = {}
        for event_id in queryset.values_list("id", flat=True):
            status = webhook_reprocess(event_id=event_id)
            outcomes[status] = outcomes.get(status, 0) + 1
        summary = ", ".join(f"{count} {status}" for status, count in sorted(outcomes.items()))
        self.message_user(request, f"Reprocessed: {summary}.", messages.SUCCESS)
