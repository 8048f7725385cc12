"""A campaign filter on telephony's Calls list.

Telephony knows nothing of campaigns (campaigns depend on telephony, never the reverse), so the
filter is added to telephony's CallAdmin from here: `campaigns.admin` calls
`add_campaign_filter_to_calls()` once, as the admin modules load.
"""

from django.contrib import admin
from django.http import HttpRequest

from campaigns.models import Campaign, CampaignAttempt
from contactcenter.api.lookups import is_id
from telephony.admin.calls import CallAdmin
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
