"""Staff import and configure phone numbers here; Agora is updated by workers.

Every write goes through `telephony.services.numbers` (create, update, delete, push, reconcile):
the admin never saves a number itself. The outbound SIP password is write-only: the form never
renders it back, and it appears in no list, read-only field or snapshot.
"""

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from contactcenter.admin_display import BadgeKind, status_badge
from telephony.admin.calls import TestCallMixin
from telephony.admin.search import PhoneNumberSearchMixin
from telephony.agora import AgoraError
from telephony.agora.redaction import MASK, redact
from telephony.models import Call, PhoneNumber
from telephony.services.caller_health import caller_health
from telephony.services.numbers import (
    EDITABLE_FIELDS,
    phone_number_check,
    phone_number_create,
    phone_number_delete,
    phone_number_delete_refusals,
    phone_number_kept_password,
    phone_number_request_push,
    phone_number_update,
    phone_numbers_reconcile,
)
from telephony.validators import normalize_phone_number, validate_cidr_list


class PhoneNumberForm(forms.ModelForm):
    inbound_allowed_addresses = forms.CharField(
        label="Inbound allowed addresses",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 40}),
        help_text="IP addresses or CIDR blocks allowed to send inbound SIP, one per line "
        "(e.g. 54.172.60.0/30).",
    )
    outbound_password = forms.CharField(
        label="Outbound SIP password",
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Leave empty to keep the current password (for the same SIP address only).",
    )

    class Meta:
        model = PhoneNumber
        fields = (
            "e164",
            "label",
            "provider",
            "inbound",
            "outbound",
            "inbound_allowed_addresses",
            "inbound_pipeline_id",
            "outbound_address",
            "outbound_transport",
            "outbound_prefix",
            "outbound_user",
            "outbound_password",
            "outbound_pipeline_id",
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._stored_password = self.instance.outbound_password if self.instance.pk else ""
        # What is stored before the form changes the instance (the kept password's address).
        self._stored = PhoneNumber(
            outbound_address=self.instance.outbound_address,
            outbound_password=self._stored_password,
        )
        # Nothing of the stored password reaches the page, not even as an initial value.
        self.initial["outbound_password"] = ""
        addresses = self.instance.inbound_allowed_addresses if self.instance.pk else []
        self.initial["inbound_allowed_addresses"] = "\n".join(addresses or [])
        if "e164" in self.fields:
            self.fields[
                "e164"
            ].help_text = "E.164 (+14155550100) or a national number in the default region."

    def clean_e164(self) -> str:
        return normalize_phone_number(self.cleaned_data.get("e164") or "")

    def clean_inbound_allowed_addresses(self) -> list[str]:
        text = self.cleaned_data.get("inbound_allowed_addresses") or ""
        items = [item.strip() for item in text.replace(",", "\n").splitlines() if item.strip()]
        validate_cidr_list(items)
        return items

    def _post_clean(self) -> None:
        super()._post_clean()
        if not self.cleaned_data.get("outbound_password"):
            self.instance.outbound_password = self._stored_password
            if self.instance.pk is not None:
                try:
                    self.instance.outbound_password = phone_number_kept_password(
                        stored=self._stored,
                        outbound_address=self.instance.outbound_address,
                    )
                except ValidationError as error:
                    self._update_errors(error)
        try:
            phone_number_check(self.instance)
        except ValidationError as error:
            self._update_errors(error)


@admin.register(PhoneNumber)
class PhoneNumberAdmin(TestCallMixin, PhoneNumberSearchMixin, admin.ModelAdmin):
    test_call_field = "caller_id"
    phone_search_field = "e164"
    form = PhoneNumberForm
    list_display = (
        "e164",
        "label",
        "provider",
        "inbound",
        "outbound",
        "sync_badge",
        "last_synced_at",
        "origin",
    )
    list_filter = ("provider", "sync_state", "origin", "inbound", "outbound")
    search_fields = ("e164", "label")
    list_per_page = 100

    def get_list_display(self, request: HttpRequest):
        # One grouped query per page for every number's health (telephony.services.caller_health).
        health = caller_health(Call.objects.all(), now=timezone.now())

        @admin.display(description="answered, 7 days")
        def answer_rate(number: PhoneNumber) -> str:
            found = health.get(number.pk)
            if found is None:
                return "—"
            if found.flagged:
                return format_html(
                    '<span class="caller-flagged" title="{}">{} ⚠ likely flagged as spam</span>',
                    found.describe(), f"{round(100 * found.rate)}%",
                )  # fmt: skip
            return format_html('<span title="{}">{}</span>', found.describe(),
                               f"{round(100 * found.rate)}%")  # fmt: skip

        return (*super().get_list_display(request), answer_rate)

    actions = ("sync_from_agora", "push_selected")
    sync_fields = (
        "sync_badge",
        "last_synced_at",
        "last_error",
        "differences_list",
        "remote_snapshot_pretty",
        "origin",
    )
    readonly_fields = sync_fields

    def get_fieldsets(self, request: HttpRequest, obj: PhoneNumber | None = None):
        # View-only staff get read-only fields: the password must not be one of them.
        editable = obj is None or self.has_change_permission(request, obj)
        password = ("outbound_password",) if editable else ()
        fieldsets = [
            (None, {"fields": ("e164", "label", "provider", "inbound", "outbound")}),
            ("Inbound", {"fields": ("inbound_allowed_addresses", "inbound_pipeline_id")}),
            (
                "Outbound SIP trunk",
                {
                    "fields": (
                        "outbound_address",
                        "outbound_transport",
                        "outbound_prefix",
                        "outbound_user",
                        *password,
                        "outbound_pipeline_id",
                    )
                },
            ),
        ]
        if obj is not None:
            fieldsets.append(("Sync with Agora", {"fields": self.sync_fields}))
        return fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: PhoneNumber | None = None):
        # The number is its identity in Agora: a different number is a new entry.
        return (*self.sync_fields, "e164") if obj is not None else self.sync_fields

    def get_search_results(self, request: HttpRequest, queryset, search_term: str):
        found, duplicates = super().get_search_results(request, queryset, search_term)
        # A campaign's caller-ID picker (admin autocomplete) offers outbound numbers only.
        if (
            request.GET.get("model_name") == "campaign"
            and request.GET.get("field_name") == "caller_ids"
        ):
            found = found.filter(outbound=True)
        return found, duplicates

    # -- display ------------------------------------------------------------------------------

    @admin.display(description="sync", ordering="sync_state")
    def sync_badge(self, number: PhoneNumber) -> str:
        return status_badge(
            BadgeKind.NUMBER_SYNC, number.sync_state, number.get_sync_state_display()
        )

    @admin.display(description="differences from Agora")
    def differences_list(self, number: PhoneNumber) -> str:
        items = [str(item) for item in number.differences or []]
        if not items:
            return "None"
        return format_html(
            "<ul>{}</ul>", format_html_join("", "<li>{}</li>", ((i,) for i in items))
        )

    @admin.display(description="what Agora reported")
    def remote_snapshot_pretty(self, number: PhoneNumber) -> str:
        if number.remote_snapshot is None:
            return "-"
        text = json.dumps(
            redact(number.remote_snapshot, mask=MASK, keep_blank=True), indent=2, sort_keys=True
        )
        return format_html('<pre style="margin:0;white-space:pre-wrap">{}</pre>', text)

    # -- writes go through the services -------------------------------------------------------

    def save_model(self, request: HttpRequest, obj: PhoneNumber, form, change: bool) -> None:
        data = {key: value for key, value in form.cleaned_data.items() if key in EDITABLE_FIELDS}
        if change:
            data.pop("e164", None)
            saved = phone_number_update(number=obj, **data)
        else:
            saved = phone_number_create(**data)
        obj.pk = saved.pk
        obj.e164 = saved.e164
        obj.sync_state = saved.sync_state

    def delete_view(self, request: HttpRequest, object_id: str, extra_context=None):
        number = self.get_object(request, unquote(object_id))
        if number is not None and self.has_delete_permission(request, number):
            reasons = phone_number_delete_refusals(number)
            if reasons:
                self._refused(request, number, reasons)
                return self._change_redirect(number)
        return super().delete_view(request, object_id, extra_context)

    def delete_model(self, request: HttpRequest, obj: PhoneNumber) -> None:
        try:
            request._phone_number_deleted = phone_number_delete(number=obj)
        except ValidationError as error:
            request._phone_number_deleted = None
            self._refused(request, obj, error.messages)

    def response_delete(self, request: HttpRequest, obj_display: str, obj_id) -> HttpResponse:
        outcome = getattr(request, "_phone_number_deleted", "deleted")
        if outcome is None:
            return HttpResponseRedirect(
                reverse("admin:telephony_phonenumber_change", args=[quote(obj_id)])
            )
        if outcome == "deleting":
            messages.success(
                request,
                f"{obj_display} is being deleted in Agora; it leaves this list once Agora "
                "confirms.",
            )
        else:
            messages.success(request, f"{obj_display} was deleted.")
        return HttpResponseRedirect(reverse("admin:telephony_phonenumber_changelist"))

    def delete_queryset(self, request: HttpRequest, queryset) -> None:
        deleted = deleting = 0
        for number in queryset:
            try:
                outcome = phone_number_delete(number=number)
            except ValidationError as error:
                self._refused(request, number, error.messages)
                continue
            deleted += outcome == "deleted"
            deleting += outcome == "deleting"
        if deleted or deleting:
            messages.success(
                request,
                f"Deleted {deleted}; being deleted in Agora: {deleting}.",
            )
        # delete_selected announces "Successfully deleted N" next: ours above is the truth.
        request._phone_number_bulk_delete = True

    def message_user(self, request: HttpRequest, message, level=messages.INFO, *args, **kwargs):
        if getattr(request, "_phone_number_bulk_delete", False):
            request._phone_number_bulk_delete = False
            return
        super().message_user(request, message, level, *args, **kwargs)

    def _refused(self, request: HttpRequest, number: PhoneNumber, reasons: list[str]) -> None:
        messages.error(request, f"{number.e164} was not deleted: " + " ".join(reasons))

    def _change_redirect(self, number: PhoneNumber) -> HttpResponse:
        return HttpResponseRedirect(
            reverse("admin:telephony_phonenumber_change", args=[quote(number.pk)])
        )

    # -- sync with Agora ----------------------------------------------------------------------

    def has_sync_permission(self, request: HttpRequest) -> bool:
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")

    def _sync(self, request: HttpRequest) -> None:
        """Runs the reconcile inline: staff see the outcome at once (one list request)."""
        try:
            counts = phone_numbers_reconcile()
        except AgoraError as error:
            messages.error(request, f"Sync from Agora failed: {error}")
            return
        messages.success(
            request,
            f"Synced from Agora: {counts['remote']} numbers in Agora, {counts['created']} new "
            f"here, {counts['missing']} missing in Agora, {counts['different']} with "
            "differences.",
        )

    @admin.action(description="Sync from Agora (all numbers)", permissions=["sync"])
    def sync_from_agora(self, request: HttpRequest, queryset) -> None:
        self._sync(request)

    @admin.action(description="Push selected to Agora", permissions=["sync"])
    def push_selected(self, request: HttpRequest, queryset) -> None:
        count = 0
        for number in queryset:
            phone_number_request_push(number=number)
            count += 1
        messages.success(request, f"Pushing {count} number{'s' if count != 1 else ''} to Agora.")

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "sync/",
                self.admin_site.admin_view(self.sync_view),
                name="{}_{}_sync".format(*info),
            ),
            *super().get_urls(),
        ]

    def sync_view(self, request: HttpRequest) -> HttpResponse:
        """POST only (CSRF-protected by admin_view, which also requires an active staff user)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_sync_permission(request):
            raise PermissionDenied
        self._sync(request)
        return HttpResponseRedirect(reverse("admin:telephony_phonenumber_changelist"))

    def changelist_view(self, request: HttpRequest, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_sync": self.has_sync_permission(request),
            "sync_url": reverse("admin:telephony_phonenumber_sync"),
        }
        return super().changelist_view(request, extra_context)
