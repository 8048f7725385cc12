"""Admin pages of the CRM webhook subsystem: subscriptions (secret write-only, shown once) and
read-only deliveries with their attempts, which can be redelivered."""

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.html import format_html

from contactcenter.crm_webhooks.models import (
    WebhookDelivery,
    WebhookDeliveryAttempt,
    WebhookEventType,
    WebhookSubscription,
    validate_webhook_secret,
    webhook_secret_new,
)
from contactcenter.crm_webhooks.services import delivery_redeliver
from contactcenter.shown_once import ShownOnceMixin


class WebhookSubscriptionForm(forms.ModelForm):
    """The secret is write-only: never rendered; left empty it is generated (new) or kept."""

    new_secret = forms.CharField(
        label="Secret",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Leave empty to generate one (new subscription) or to keep the current one. "
        "It is shown once, after saving, and never again.",
    )
    url = forms.URLField(
        label="URL",
        max_length=500,
        assume_scheme="https",
        help_text=WebhookSubscription._meta.get_field("url").help_text,
    )
    event_types = forms.MultipleChoiceField(
        choices=WebhookEventType.choices, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = WebhookSubscription
        fields = ("name", "url", "event_types", "active")

    def clean_new_secret(self) -> str:
        secret = self.cleaned_data.get("new_secret", "")
        if secret:
            validate_webhook_secret(secret)
        return secret


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(ShownOnceMixin, admin.ModelAdmin):
    form = WebhookSubscriptionForm
    shown_once_what = "signing secret"
    shown_once_usage = "Verify each delivery's signature with it (see docs/webhooks.md)."
    list_display = ("name", "url", "event_list", "active", "created_at")
    list_filter = ("active",)
    search_fields = ("name", "url")
    fields = ("name", "url", "new_secret", "event_types", "active")

    @admin.display(description="Events")
    def event_list(self, obj: WebhookSubscription) -> str:
        return ", ".join(obj.event_types or [])

    def save_model(self, request, obj, form, change):
        entered = form.cleaned_data.get("new_secret", "")
        if entered:
            obj.secret = entered
        elif not change:
            obj.secret = webhook_secret_new()
        obj.save()
        if not change and not entered:
            self.show_once(request, obj.secret)


class WebhookDeliveryAttemptInline(admin.TabularInline):
    model = WebhookDeliveryAttempt
    fields = ("attempted_at", "status_code", "error", "duration_ms")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "event_type",
        "subscription",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "created_at",
    )
    list_filter = ("status", "event_type", "subscription")
    search_fields = ("event_id",)
    list_select_related = ("subscription",)
    date_hierarchy = "created_at"
    readonly_fields = (
        "subscription",
        "event_type",
        "event_id",
        "status",
        "attempts",
        "next_attempt_at",
        "last_status_code",
        "last_error",
        "created_at",
        "delivered_at",
        "payload_pretty",
    )
    fields = readonly_fields
    inlines = (WebhookDeliveryAttemptInline,)
    actions = ("redeliver",)

    @admin.display(description="Payload")
    def payload_pretty(self, obj: WebhookDelivery) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.payload, indent=2))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # read-only: only the action (and the services) change deliveries

    def has_redeliver_permission(self, request) -> bool:
        """The change permission, which the read-only page itself never grants."""
        return request.user.has_perm("contactcenter.change_webhookdelivery")

    @admin.action(
        description="Redeliver selected deliveries (delivered or failed)",
        permissions=["redeliver"],
    )
    def redeliver(self, request, queryset):
        sent, skipped = 0, 0
        for delivery_id in queryset.values_list("id", flat=True):
            try:
                delivery_redeliver(delivery_id=delivery_id)
                sent += 1
            except ValidationError:
                skipped += 1
        self.message_user(request, f"Redelivering {sent} delivery(ies).", messages.SUCCESS)
        if skipped:
            self.message_user(
                request, f"Skipped {skipped} still pending delivery(ies).", messages.WARNING
            )
