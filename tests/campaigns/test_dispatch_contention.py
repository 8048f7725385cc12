"""The dispatcher under contention, held on purpose from a second database session: a capacity
decision in flight (the capacity lock) is waited for, and contacts another dispatcher has
claimed (row locks) are skipped, not waited for."""

import threading

import pytest
from django.conf import settings
from django.db import connection, transaction

from campaigns.models import CampaignContact
from campaigns.services.campaigns import campaign_start
from campaigns.services.dispatch import dispatch_campaign
from telephony.models import Call
from telephony.services.calls import call_create
from telephony.services.capacity import BOOKED_STATUSES, lock_capacity

pytestmark = pytest.mark.django_db(transaction=True)


class Session(threading.Thread):
    """Runs `work` in its own thread, hence its own database connection (closed after)."""

    def __init__(self, work) -> None:
        super().__init__(daemon=True)
        self.work, self.result, self.error = work, None, None

    def run(self) -> None:
        try:
            self.result = self.work()
        except BaseException as error:  # surfaced by the test
            self.error = error
        finally:
            connection.close()


def hold(acquire, release: threading.Event) -> Session:
    """A session that runs `acquire()` inside a transaction and keeps it open until released."""
    held = threading.Event()

    def work():
        with transaction.atomic():
            acquire()
            held.set()
            release.wait(30)

    session = Session(work)
    session.start()
    assert held.wait(10), session.error
    return session


def test_a_capacity_decision_in_flight_is_waited_for(
    make_campaign, imported_caller, agent_profile, clock, monkeypatch
):
    monkeypatch.setattr(settings, "AGORA_MAX_CONCURRENT_CALLS", 3)
    campaign = make_campaign([f"+1415555{n:04d}" for n in range(150, 155)])
    campaign_start(campaign=campaign)
    release = threading.Event()

    def another_dispatcher_taking_a_place():
        lock_capacity()
        call_create(to_number="+13125550150", caller_id=imported_caller,
                    agent_profile=agent_profile, variables={"first_name": "Ada"})  # fmt: skip

    other = hold(another_dispatcher_taking_a_place, release)
    try:
        ours = Session(lambda: dispatch_campaign(campaign_id=campaign.pk, now=clock.now()))
        ours.start()
        ours.join(1.5)
        assert ours.is_alive(), "the dispatcher decided while another decision was in flight"
    finally:
        release.set()
        other.join(10)
    ours.join(10)

    assert ours.error is None and other.error is None
    assert ours.result == 2  # it saw the other session's call once that one committed
    assert Call.objects.filter(status__in=BOOKED_STATUSES).count() == 3


def test_contacts_another_dispatcher_holds_are_skipped_not_waited_for(make_campaign, clock):
    campaign = make_campaign([f"+1415555{n:04d}" for n in range(150, 153)])
    campaign_start(campaign=campaign)
    first = campaign.contacts.order_by("id").first()
    release = threading.Event()

    other = hold(
        lambda: list(CampaignContact.objects.select_for_update().filter(pk=first.pk)), release
    )
    try:
        ours = Session(lambda: dispatch_campaign(campaign_id=campaign.pk, now=clock.now()))
        ours.start()
        ours.join(10)
        assert not ours.is_alive(), "the dispatcher waited for a contact another one holds"
    finally:
        release.set()
        other.join(10)

    assert ours.error is None and ours.result == 2
    first.refresh_from_db()
    assert first.status == CampaignContact.Status.PENDING
    assert not Call.objects.filter(to_number=first.contact.phone).exists()
