"""What campaigns add to telephony's Calls list and call pages: a campaign filter, and the
campaign and contact of each call (columns, search by contact name, CSV export, links).

Telephony knows nothing of campaigns (campaigns depend on telephony, never the reverse), so
these are added from here: `campaigns.admin` calls `add_campaign_filter_to_calls()` and
`register_call_columns()` once, as the admin modules load.
"""

from django.contrib import admin
from django.contrib.admin.utils import quote
from django.http import HttpRequest
from django.urls import reverse

from campaigns.models import Campaign, CampaignAttempt
from contactcenter.api.lookups import is_id
from telephony.admin.calls import CallAdmin, CallColumn, register_call_column
from telephony.models import Call


class CampaignCallFilter(admin.SimpleListFilter):
    """Calls of one campaign (through their attempt), or the single calls of none."""

    title = "campaign"
    parameter_name = "campaign"
    NONE = "none"

    def lookups(self, request: HttpRequest, model_admin) -> list[tuple[str, str]]:
        with_calls = (
            Campaign.objects.filter(pk__in=CampaignAttempt.objects.values("campaign_id"))
            .order_by("-created_at")
            .values_list("pk", "name")
        )
        return [(str(pk), name) for pk, name in with_calls] + [
            (self.NONE, "No campaign (single calls)")
        ]

    def queryset(self, request: HttpRequest, queryset):
        value = self.value()
        if value == self.NONE:
            return queryset.filter(campaign_attempt__isnull=True)
        if value and is_id(value):
            return queryset.filter(campaign_attempt__campaign_id=int(value))
        return queryset


def add_campaign_filter_to_calls() -> None:
    """Add the filter to CallAdmin (and to its registered instance); safe to call again."""
    kept = tuple(
        item
        for item in CallAdmin.list_filter
        if getattr(item, "parameter_name", None) != CampaignCallFilter.parameter_name
    )
    CallAdmin.list_filter = (*kept, CampaignCallFilter)
    registered = admin.site._registry.get(Call)
    if registered is not None:
        registered.list_filter = CallAdmin.list_filter


def _attempt(call: Call) -> CampaignAttempt | None:
    try:
        return call.campaign_attempt
    except CampaignAttempt.DoesNotExist:  # a single call
        return None


def _campaign_name(call: Call) -> str | None:
    attempt = _attempt(call)
    return attempt.campaign.name if attempt else None


def _campaign_url(call: Call) -> str | None:
    attempt = _attempt(call)
    return (
        reverse("admin:campaigns_campaign_change", args=[quote(attempt.campaign_id)])
        if attempt
        else None
    )


def _contact_name(call: Call) -> str | None:
    attempt = _attempt(call)
    if attempt is None:
        return None
    contact = attempt.campaign_contact.contact
    return f"{contact.first_name} {contact.last_name}".strip() or contact.phone


def _contact_url(call: Call) -> str | None:
    attempt = _attempt(call)
    return (
        reverse("admin:campaigns_contact_change", args=[quote(attempt.campaign_contact.contact_id)])
        if attempt
        else None
    )


def register_call_columns() -> None:
    register_call_column(
        CallColumn(
            name="campaign",
            description="campaign",
            value=_campaign_name,
            link=_campaign_url,
            select_related=("campaign_attempt__campaign",),
            search_fields=("campaign_attempt__campaign__name",),
        )
    )
    register_call_column(
        CallColumn(
            name="contact",
            description="contact",
            value=_contact_name,
            link=_contact_url,
            select_related=("campaign_attempt__campaign_contact__contact",),
            search_fields=(
                "campaign_attempt__campaign_contact__contact__first_name",
                "campaign_attempt__campaign_contact__contact__last_name",
            ),
        )
    )
