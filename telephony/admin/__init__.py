"""Staff's admin for telephony: phone numbers, agent profiles and calls."""

from telephony.admin import agents, calls, numbers  # noqa: F401
