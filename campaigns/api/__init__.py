"""REST API for campaigns, one module per resource (like `campaigns/admin/` and `services/`):
contact lists and contacts, the do-not-call list, campaigns."""

from campaigns.api.campaigns import CampaignViewSet
from campaigns.api.contacts import ContactListViewSet, ContactViewSet
from campaigns.api.dnc import DoNotCallViewSet


def register(router) -> None:
    """Add this app's viewsets to the API router."""
    router.register("contact-lists", ContactListViewSet, basename="contact-list")
    router.register("contacts", ContactViewSet, basename="contact")
    router.register("do-not-call", DoNotCallViewSet, basename="do-not-call")
    router.register("campaigns", CampaignViewSet, basename="campaign")
