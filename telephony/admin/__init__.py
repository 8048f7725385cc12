"""Staff's admin for telephony: phone numbers, agent profiles, calls, refused calls and
webhook events."""

from telephony.admin import agents, calls, numbers, refusals, webhooks  # noqa: F401
