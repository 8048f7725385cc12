"""Each contact's progress through a campaign, read only: the dialer and the call outcomes move
it on, and every attempt stays accounted for. Staff may schedule, move or cancel a callback
(campaigns.services.callbacks, as the agent's tool and the API do)."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from campaigns.models import CampaignContact
from campaigns.services.callbacks import callback_cancel, callback_schedule, contact_zone
from campaigns.states import CLOSED_CONTACT_STATUSES
from contactcenter.admin_display import BadgeKind, call_status_badge, status_badge


@admin.register(CampaignContact)
class CampaignContactAdmin(admin.ModelAdmin):
    """Each contact's progress through a campaign: read only, moved on by the dialer."""

    list_display = (
        "campaign",
        "contact_phone",
        "contact_name",
        "status_badge",
        "attempts",
        "next_attempt_at",
        "callback_at",
        "last_outcome",
        "note",  # says why it waits; the rule itself is a filter (and on its page)
        "last_call_link",
    )
    list_filter = ("campaign", "status", "held_by")
    search_fields = ("contact__phone", "contact__first_name", "contact__last_name")
    list_select_related = ("campaign", "contact", "last_call")
    list_per_page = 100
    fields = (
        "campaign",
        "contact",
        "status",
        "attempts",
        "next_attempt_at",
        "callback",
        "last_outcome",
        "last_call_link",
        "held_by",
        "note",
        "updated_at",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # enrolled by campaign_start

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # moved on by the dialer and the call outcomes only

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # every attempt stays accounted for

    @admin.display(description="phone", ordering="contact__phone")
    def contact_phone(self, entry: CampaignContact) -> str:
        return entry.contact.phone

    @admin.display(description="name", ordering="contact__last_name")
    def contact_name(self, entry: CampaignContact) -> str:
        return f"{entry.contact.first_name} {entry.contact.last_name}".strip() or "-"

    @admin.display(description="status", ordering="status")
    def status_badge(self, entry: CampaignContact) -> str:
        return status_badge(BadgeKind.CAMPAIGN_CONTACT, entry.status, entry.get_status_display())

    @admin.display(description="last call")
    def last_call_link(self, entry: CampaignContact) -> str:
        call = entry.last_call
        if call is None:
            return "-"
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:telephony_call_change", args=[quote(call.pk)]),
            call_status_badge(call.status, call.get_status_display()),
        )

    @admin.display(description="callback")
    def callback(self, entry: CampaignContact) -> str:
        when = f"{entry.callback_at:%Y-%m-%d %H:%M} UTC" if entry.callback_at else "none"
        if entry.status in CLOSED_CONTACT_STATUSES:
            return when
        url = reverse("admin:campaigns_campaigncontact_callback", args=[quote(entry.pk)])
        label = "Move or cancel" if entry.callback_at else "Schedule a callback"
        return format_html(
            '{} ({} of {} used) <a class="button" href="{}">{}</a>',
            when,
            entry.callbacks,
            entry.campaign.max_callbacks,
            url,
            label,
        )

    def get_urls(self):
        return [
            path(
                "<path:object_id>/callback/",
                self.admin_site.admin_view(self.callback_view),
                name="campaigns_campaigncontact_callback",
            ),
            *super().get_urls(),
        ]

    def callback_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Schedule, move or cancel the contact's callback (staff who may change contacts)."""
        if not request.user.has_perm("campaigns.change_campaigncontact"):
            raise PermissionDenied
        entry = self.get_object(request, unquote(object_id))
        if entry is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        entry_url = reverse("admin:campaigns_campaigncontact_change", args=[quote(entry.pk)])
        form = CallbackForm(request.POST or None)
        if request.method == "POST" and "cancel" in request.POST:
            try:
                callback_cancel(entry_id=entry.pk)
            except ValidationError as error:
                self.message_user(request, " ".join(error.messages), messages.ERROR)
            else:
                self.message_user(request, "Callback cancelled.", messages.SUCCESS)
            return HttpResponseRedirect(entry_url)
        if request.method == "POST" and form.is_valid():
            try:
                scheduled = callback_schedule(entry_id=entry.pk, **form.cleaned_data)
            except ValidationError as error:
                for message in error.messages:
                    form.add_error("when" if "when" in getattr(error, "error_dict", {})
                                   else None, message)  # fmt: skip
            else:
                self.message_user(request, scheduled.describe(), messages.SUCCESS)
                return HttpResponseRedirect(entry_url)
        try:
            zone = contact_zone(entry)[0]
        except ValidationError:
            zone = None
        context = {
            **self.admin_site.each_context(request),
            "title": f"Callback for {entry.contact.phone}",
            "opts": self.opts,
            "form": form,
            "entry": entry,
            "entry_url": entry_url,
            "zone": zone.key if zone else "unknown",
            "local_callback": (
                f"{entry.callback_at.astimezone(zone):%a %d %b %H:%M}"
                if entry.callback_at and zone
                else ""
            ),
            "changelist_url": reverse("admin:campaigns_campaigncontact_changelist"),
        }
        return TemplateResponse(request, "admin/campaigns/campaigncontact/callback.html", context)


class CallbackForm(forms.Form):
    when = forms.CharField(
        max_length=200,
        help_text="In the contact's local time: 'tomorrow at 3 pm', 'Monday 10:00', or "
        "2026-12-03T15:00.",
    )
    note = forms.CharField(max_length=300, required=False, help_text="What it is about.")
