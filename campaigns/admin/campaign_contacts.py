"""Each contact's progress through a campaign, read only: the dialer and the call outcomes move
it on, and every attempt stays accounted for."""

from django.contrib import admin
from django.contrib.admin.utils import quote
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from campaigns.models import CampaignContact
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
        "last_outcome",
        "note",
        "last_call_link",
    )
    list_filter = ("campaign", "status")
    search_fields = ("contact__phone", "contact__first_name", "contact__last_name")
    list_select_related = ("campaign", "contact", "last_call")
    list_per_page = 100
    fields = (
        "campaign",
        "contact",
        "status",
        "attempts",
        "next_attempt_at",
        "last_outcome",
        "last_call_link",
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
