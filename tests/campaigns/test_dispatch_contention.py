"""The dispatcher and placement under contention, held on purpose from a second database session:
a capacity decision in flight (the capacity lock) is waited for, but only for the decision (the
claim and the building come first), and contacts another dispatcher has claimed (row locks) are
skipped, not waited for."""

import threading
import time

import pytest
from django.conf import settings
from django.db import connection, transaction

from campaigns.models import Campaign, CampaignContact
from campaigns.services.campaigns import campaign_start
from campaigns.services.dispatch import dispatch, dispatch_campaign
from telephony.models import Call
from telephony.services.calls import call_create, calls_place
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


def started(work, *, wait: float = 1.5) -> Session:
    """`work` in a session of its own, given `wait` seconds: still alive after means it waits."""
    session = Session(work)
    session.start()
    session.join(wait)
    return session


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
        ours = started(lambda: dispatch_campaign(campaign_id=campaign.pk, now=clock.now()))
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
        ours = started(lambda: dispatch_campaign(campaign_id=campaign.pk, now=clock.now()), wait=10)
        assert not ours.is_alive(), "the dispatcher waited for a contact another one holds"
    finally:
        release.set()
        other.join(10)

    assert ours.error is None and ours.result == 2
    first.refresh_from_db()
    assert first.status == CampaignContact.Status.PENDING
    assert not Call.objects.filter(to_number=first.contact.phone).exists()


def unlocked(rows) -> int:
    """How many of `rows` (a queryset) no session holds, asked from a session of its own."""
    session = Session(lambda: _count_skip_locked(rows))
    session.start()
    session.join(10)
    assert session.error is None, session.error
    return session.result


def _count_skip_locked(rows) -> int:
    with transaction.atomic():
        return len(rows.select_for_update(skip_locked=True))


def wait_for(condition, *, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def while_a_decision_is_in_flight(work, rows) -> Session:
    """Run `work` in its own session while another holds the capacity lock; check that, waiting
    for the lock, it already holds every one of `rows` (claimed and built before it asked).
    Returns its finished session."""
    release = threading.Event()
    other = hold(lock_capacity, release)
    try:
        ours = Session(work)
        ours.start()
        assert wait_for(lambda: unlocked(rows) == 0)
        assert ours.is_alive(), "it did not wait for the capacity decision in flight"
    finally:
        release.set()
        other.join(10)
    ours.join(10)
    assert ours.error is None, ours.error
    return ours


def test_a_dispatcher_claims_and_builds_its_chunk_before_it_waits_for_the_capacity_lock(
    make_campaign, clock
):
    campaign = make_campaign([f"+1415555{n:04d}" for n in range(150, 153)])
    campaign_start(campaign=campaign)

    ours = while_a_decision_is_in_flight(
        lambda: dispatch_campaign(campaign_id=campaign.pk, now=clock.now()),
        CampaignContact.objects.filter(campaign=campaign),
    )

    assert ours.result == 3


def test_placement_locks_and_builds_its_batch_before_it_waits_for_the_capacity_lock(
    imported_caller, agent_profile, simulator
):
    calls = [
        call_create(to_number=f"+1415555{n:04d}", caller_id=imported_caller,
                    agent_profile=agent_profile, variables={"first_name": "Ada"})
        for n in range(150, 153)
    ]  # fmt: skip

    ours = while_a_decision_is_in_flight(
        lambda: calls_place([str(call.pk) for call in calls]),
        Call.objects.filter(pk__in=[call.pk for call in calls]),
    )

    assert set(ours.result.values()) == {"placed"}


def test_a_tick_leaves_a_campaign_another_dispatcher_is_at_and_a_refill_waits_for_it(
    make_campaign, clock
):
    campaign = make_campaign([f"+1415555{n:04d}" for n in range(150, 153)])
    campaign_start(campaign=campaign)
    release = threading.Event()

    other = hold(lambda: list(Campaign.objects.select_for_update().filter(pk=campaign.pk)), release)
    try:
        tick = started(lambda: dispatch(now=clock.now()), wait=10)
        assert not tick.is_alive(), "the tick waited for a campaign another dispatcher holds"
        refill = started(lambda: dispatch_campaign(campaign_id=campaign.pk, now=clock.now()))
        assert refill.is_alive(), "a refill went on without the campaign's lock"
    finally:
        release.set()
        other.join(10)
    refill.join(10)

    assert tick.error is None and tick.result == {campaign.pk: 0}
    assert refill.error is None and refill.result == 3
