"""Staff's admin for campaigns: contact lists and contacts, the do-not-call list, campaigns."""

from campaigns.admin import campaigns, contacts, dnc  # noqa: F401
