"""Staff's admin for telephony: phone numbers, agent profiles, calls and webhook events."""

from telephony.admin import agents, calls, numbers, webhooks  # noqa: F401
