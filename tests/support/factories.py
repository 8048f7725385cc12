"""Test data built with the suite's defaults (factory_boy): a test names only what it is about.

`CallFactory(status=CallStatus.ANSWERED)` is a row as a worker would leave it, without the
state machine: tests of the state machine itself go through telephony.services.calls.
"""

import uuid
from datetime import time

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from campaigns.models import Campaign, Contact, ContactList
from telephony.models import AgentProfile, Call, PhoneNumber
from telephony.services.calls import call_identity
from telephony.states import CallStatus

# Every day, as wide as the calling-hours guard (08:00-21:00) lets any campaign call; the
# suite's clock (tests/support/clock.py) is pinned inside it for the usual callees.
EVERY_DAY = {"window_start": time(8, 0), "window_end": time(21, 0), "weekdays": list(range(7))}


class PhoneNumberFactory(DjangoModelFactory):
    """A caller number already imported into Agora (synced)."""

    class Meta:
        model = PhoneNumber
        django_get_or_create = ("e164",)

    e164 = "+14155550100"
    label = "Sales"
    outbound_address = "sip.carrier.example"
    sync_state = PhoneNumber.SyncState.SYNCED


class AgentProfileFactory(DjangoModelFactory):
    class Meta:
        model = AgentProfile
        django_get_or_create = ("name",)

    name = "Reminder bot"
    pipeline_id = "pipeline-reminders"
    greeting_template = "Hi {{first_name}}, this is Acme calling about your appointment."


class ContactListFactory(DjangoModelFactory):
    class Meta:
        model = ContactList

    name = factory.Sequence(lambda n: f"list-{n}")


class ContactFactory(DjangoModelFactory):
    class Meta:
        model = Contact

    contact_list = factory.SubFactory(ContactListFactory)
    phone = "+14155550150"
    first_name = "Ada"
    consent = True  # new campaigns call only contacts with consent on record


class CampaignFactory(DjangoModelFactory):
    """A draft campaign open every day. `contact_lists=[...]`, `caller_ids=[...]` attach rows."""

    class Meta:
        model = Campaign
        skip_postgeneration_save = True  # the hooks only add many-to-many rows

    name = "Reminders"
    agent_profile = factory.SubFactory(AgentProfileFactory)
    window_start = EVERY_DAY["window_start"]
    window_end = EVERY_DAY["window_end"]
    weekdays = factory.LazyFunction(lambda: list(EVERY_DAY["weekdays"]))

    @factory.post_generation
    def contact_lists(self, create, lists, **kwargs):
        if create and lists:
            self.contact_lists.add(*lists)

    @factory.post_generation
    def caller_ids(self, create, callers, **kwargs):
        if create and callers:
            self.caller_ids.add(*callers)


class CallFactory(DjangoModelFactory):
    """A call row with the Agora name and channel its id gives it (see call_identity)."""

    class Meta:
        model = Call

    id = factory.LazyFunction(uuid.uuid4)
    status = CallStatus.QUEUED
    # a completed call talked, so it was answered (a constraint says so)
    answered_at = factory.LazyAttribute(
        lambda call: timezone.now() if call.status == CallStatus.COMPLETED else None
    )
    to_number = "+14155550150"
    caller_id = factory.SubFactory(PhoneNumberFactory)
    from_number = factory.LazyAttribute(
        lambda call: call.caller_id.e164 if call.caller_id else "+14155550100"
    )
    agent_profile = factory.SubFactory(AgentProfileFactory)
    agora_name = factory.LazyAttribute(lambda call: call_identity(call.id)[0])
    channel = factory.LazyAttribute(lambda call: call_identity(call.id)[1])
