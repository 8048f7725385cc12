"""REST API for telephony, one module per resource (like `telephony/admin/` and `services/`):
phone numbers, agent profiles, calls (the kernel is contactcenter/api)."""

from telephony.api.agents import AgentProfileViewSet
from telephony.api.calls import CallViewSet
from telephony.api.numbers import PhoneNumberViewSet


def register(router) -> None:
    """Add this app's viewsets to the API router."""
    router.register("phone-numbers", PhoneNumberViewSet, basename="phone-number")
    router.register("agents", AgentProfileViewSet, basename="agent")
    router.register("calls", CallViewSet, basename="call")
