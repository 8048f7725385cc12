"""Staff's admin for campaigns: contact lists and contacts, the do-not-call list, campaigns
(their controls and contacts), and the campaign filter on telephony's Calls list."""

from campaigns.admin import (  # noqa: F401
    calendar,
    calls,
    campaign_contacts,
    campaigns,
    contacts,
    controls,
    dnc,
)

# Telephony knows nothing of campaigns, so the Calls list's campaign filter is added from here.
calls.add_campaign_filter_to_calls()
calls.register_call_columns()
