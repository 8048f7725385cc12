import functools

from axes.admin import AccessAttemptAdmin
from axes.models import AccessAttempt
from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import quote
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.cache import add_never_cache_headers

from contactcenter.api.auth import scopes_missing_permissions
from contactcenter.models import ApiKey, ApiScope, api_scopes_ordered

admin.site.site_header = "Contact center"
admin.site.site_title = "Contact center"
admin.site.index_title = "Administration"


class ApiKeyForm(forms.ModelForm):
    """Scopes are chosen by staff who could do in person what each scope allows: a key never
    gets more power than the staff member who gives it (narrowing is always allowed)."""

    scopes = forms.MultipleChoiceField(
        choices=ApiScope.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="What the key may do: every API route needs one of these. Choose only what "
        "the integration uses; you can give only what your own permissions allow.",
    )

    class Meta:
        model = ApiKey
        fields = ("name", "scopes")

    def __init__(self, *args, granted_by=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.granted_by = granted_by
        self.had = set(self.instance.scopes or []) if self.instance.pk else set()
        if granted_by is not None:
            offered = {
                scope
                for scope in ApiScope.values
                if scope in self.had or not scopes_missing_permissions(granted_by, [scope])
            }
            self.fields["scopes"].choices = [c for c in ApiScope.choices if c[0] in offered]

    def clean_scopes(self) -> list[str]:
        chosen = api_scopes_ordered(self.cleaned_data["scopes"])
        if self.granted_by is not None:
            added = [scope for scope in chosen if scope not in self.had]
            refused = scopes_missing_permissions(self.granted_by, added)
            if refused:
                raise ValidationError(
                    [
                        f"You cannot give {scope}: it needs {', '.join(lacking)}, which you "
                        "do not have."
                        for scope, lacking in refused.items()
                    ]
                )
        return chosen


class ShownOnceMixin:
    """Shows a new key or secret once, in the page that answers the save.

    Never through `messages`: Django's messages travel in a cookie (and in the session when
    too large), so the value would sit in the browser and in proxies' logs. `save_model` puts
    the value on the request with `show_once`; `response_add` renders it instead of the usual
    redirect, with headers that keep it out of caches.
    """

    shown_once_what = "secret"
    shown_once_usage = ""

    def show_once(self, request: HttpRequest, value: str) -> None:
        request._shown_once = value

    def response_add(self, request: HttpRequest, obj, post_url_continue=None) -> HttpResponse:
        value = getattr(request, "_shown_once", None)
        if not value:
            return super().response_add(request, obj, post_url_continue)
        opts = self.opts
        info = opts.app_label, opts.model_name
        response = TemplateResponse(
            request,
            "admin/contactcenter/shown_once.html",
            {
                **self.admin_site.each_context(request),
                "opts": opts,
                "object": obj,
                "what": self.shown_once_what,
                "value": value,
                "usage": self.shown_once_usage,
                "change_url": reverse("admin:{}_{}_change".format(*info), args=[quote(obj.pk)]),
                "changelist_url": reverse("admin:{}_{}_changelist".format(*info)),
            },
        )
        add_never_cache_headers(response)
        return response


@admin.register(ApiKey)
class ApiKeyAdmin(ShownOnceMixin, admin.ModelAdmin):
    """Keys for integrations. The key is shown once, when created; only its hash is kept."""

    form = ApiKeyForm
    shown_once_what = "API key"
    shown_once_usage = "Send it as the header  Authorization: Api-Key <key>  (or X-Api-Key)."

    list_display = ("name", "prefix", "scope_list", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("name", "prefix")
    readonly_fields = ("prefix", "created_at", "last_used_at", "revoked_at")
    actions = ("revoke",)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        return functools.partial(form, granted_by=request.user)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("name", "scopes")
        # Staff who may only view see the scopes as text (the form field would show JSON).
        scopes = "scopes" if self.has_change_permission(request, obj) else "scope_list"
        return ("name", scopes, *self.readonly_fields)

    def get_readonly_fields(self, request, obj=None):
        return (*self.readonly_fields, "scope_list")

    @admin.display(description="scopes")
    def scope_list(self, obj: ApiKey) -> str:
        return ", ".join(obj.scopes or []) or "none"

    def save_model(self, request, obj, form, change):
        if change:
            obj.save(update_fields=["name", "scopes"])
            return
        issued, key = ApiKey.issue(name=obj.name, scopes=obj.scopes, created_by=request.user)
        obj.pk = issued.pk
        obj.prefix = issued.prefix
        self.show_once(request, key)

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the key's history stays

    @admin.action(description="Revoke selected keys", permissions=["change"])
    def revoke(self, request, queryset):
        for api_key in queryset:
            api_key.revoke()
        self.message_user(request, f"Revoked {queryset.count()} key(s).", messages.SUCCESS)


# -- outbound webhooks --------------------------------------------------------------------------

from django.utils.html import format_html  # noqa: E402

from contactcenter.models import (  # noqa: E402
    WebhookDelivery,
    WebhookDeliveryAttempt,
    WebhookEventType,
    WebhookSubscription,
    validate_webhook_secret,
    webhook_secret_new,
)
from contactcenter.outbound import webhook_redeliver  # noqa: E402


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
        import json

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
                webhook_redeliver(delivery_id=delivery_id)
                sent += 1
            except ValidationError:
                skipped += 1
        self.message_user(request, f"Redelivering {sent} delivery(ies).", messages.SUCCESS)
        if skipped:
            self.message_user(
                request, f"Skipped {skipped} still pending delivery(ies).", messages.WARNING
            )


# -- login lockouts (django-axes) ---------------------------------------------------------------


if admin.site.is_registered(AccessAttempt):  # django-axes' own (AXES_ENABLE_ADMIN)
    admin.site.unregister(AccessAttempt)


@admin.register(AccessAttempt)
class LoginAttemptAdmin(AccessAttemptAdmin):
    """django-axes' failed-login attempts and lockouts (deleting one unlocks it). Its clean-up
    action deletes rows: it needs the delete permission, as the admin's own delete does."""

    @admin.action(description="Clean up expired attempts", permissions=["delete"])
    def cleanup_expired_attempts(self, request, queryset):
        return super().cleanup_expired_attempts(request, queryset)
