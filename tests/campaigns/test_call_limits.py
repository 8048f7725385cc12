"""Call limits per number (campaigns.services.dialing_rules): at most NUMBER_CALLS_PER_24H calls
to one number in any 24 hours (and NUMBER_CALLS_PER_7D in any 7 days), counting every campaign
and single call, checked when a call is booked and again right before it is dialed.

The suite's clock is pinned at Wednesday 2026-11-25 18:00 UTC (10:00 in San Francisco): each
test moves it within the calling hours of the +1415 numbers it calls."""

import threading
from datetime import timedelta

import pytest
from django.db import close_old_connections, connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from campaigns.models import Campaign, CampaignContact, Contact
from campaigns.services.campaigns import campaign_start
from campaigns.services.dialing_rules import CallLimits
from campaigns.services.dispatch import dispatch, dispatch_campaign
from campaigns.services.waiting import FREQUENCY_NOTE, campaigns_waiting
from contactcenter.models import ApiKey, ApiScope
from telephony.models import Call
from telephony.rules import CallRefused, Rule
from telephony.services.calls import call_hangup, call_place
from telephony.states import CallStatus
from tests.telephony.test_dialing_rules import queue  # a single call to CALLEE

pytestmark = pytest.mark.django_db
CALLEE = "+14155550150"


@pytest.fixture(autouse=True)
def still(request):
    """The clock stands still (it moves only when a test moves it): the times a refusal
    gives are compared to the exact times calls were booked at."""
    if "clock" in request.fixturenames:
        clock = request.getfixturevalue("clock")
        clock.move_to(clock.now(), tick=False)


def counted_calls(to_number=CALLEE) -> int:
    """Calls to the number that were, or may still be, dialed (in these tests, a canceled call
    was never sent)."""
    return Call.objects.filter(to_number=to_number).exclude(status=CallStatus.CANCELED).count()


# -- single calls ---------------------------------------------------------------------------------


def test_a_fourth_call_within_24_hours_is_refused_until_the_first_is_a_day_old(
    clock, imported_caller, agent_profile
):
    first_at = clock.now()
    queue(imported_caller, agent_profile)
    clock.advance(hours=1)
    queue(imported_caller, agent_profile)
    clock.advance(hours=1)
    queue(imported_caller, agent_profile)
    clock.advance(hours=1)

    with pytest.raises(CallRefused) as refused:
        queue(imported_caller, agent_profile)

    refusal = refused.value.refusal
    assert refusal.rule == Rule.CALL_FREQUENCY
    assert refusal.opens_at == first_at + timedelta(hours=24)
    assert refusal.message == (
        "+14155550150 has 3 calls within 24 hours (at most 3, counting every campaign and "
        "single call); next allowed at 2026-11-26 18:00 UTC."
    )
    assert Call.objects.count() == 3
    assert queue(imported_caller, agent_profile, to_number="+14155550151")  # another number

    clock.move_to(first_at + timedelta(hours=24, seconds=1))
    assert queue(imported_caller, agent_profile).status == CallStatus.QUEUED


def test_the_api_names_the_rule_and_when_it_allows_again(clock, imported_caller, agent_profile):
    for _ in range(3):
        queue(imported_caller, agent_profile)
    _, key = ApiKey.issue(name="CRM", scopes=[ApiScope.CALLS_READ, ApiScope.CALLS_WRITE])
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")

    answer = api.post(
        "/api/v1/calls/",
        {"to_number": CALLEE, "caller_id": imported_caller.e164, "agent": agent_profile.name,
         "variables": {"first_name": "Ada"}},
        format="json",
    )  # fmt: skip

    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "call_frequency"
    assert "has 3 calls within 24 hours" in error["message"]


def test_calls_never_dialed_do_not_count(
    agora, simulator, clock, settings, imported_caller, agent_profile
):
    settings.NUMBER_CALLS_PER_24H = 1
    canceled = queue(imported_caller, agent_profile)
    assert call_hangup(call_id=canceled.pk) == "canceled"  # hung up while queued: never dialed

    dialed = queue(imported_caller, agent_profile)  # the canceled one did not count
    assert call_place(call_id=dialed.pk) == "placed"

    with pytest.raises(CallRefused):  # a dialed call counts
        queue(imported_caller, agent_profile)


def test_a_call_that_failed_before_any_request_does_not_count(
    agora, simulator, clock, settings, imported_caller, agent_profile
):
    settings.NUMBER_CALLS_PER_24H = 1
    broken = queue(imported_caller, agent_profile)
    agent_profile.greeting_template = "Hi {{nickname}}"  # changed meanwhile: not buildable
    agent_profile.save()
    assert call_place(call_id=broken.pk) == "failed"
    agent_profile.greeting_template = "Hi {{first_name}}"
    agent_profile.save()

    assert queue(imported_caller, agent_profile).status == CallStatus.QUEUED


def test_a_call_booked_days_ahead_counts_only_near_its_time(
    clock, settings, imported_caller, agent_profile
):
    settings.NUMBER_CALLS_PER_24H = 1
    queue(imported_caller, agent_profile, scheduled_for=clock.now() + timedelta(days=3))

    assert queue(imported_caller, agent_profile)  # today: three days before it
    with pytest.raises(CallRefused):  # the day before it, it counts
        queue(
            imported_caller, agent_profile, scheduled_for=clock.now() + timedelta(days=2, hours=1)
        )


def test_the_7_day_limit_counts_days_back(clock, settings, imported_caller, agent_profile):
    settings.NUMBER_CALLS_PER_7D = 2
    first_at = clock.now()
    queue(imported_caller, agent_profile)
    clock.advance(days=3)
    queue(imported_caller, agent_profile)
    clock.advance(days=3)  # day 6: two calls within 7 days, one allowed per day still

    with pytest.raises(CallRefused) as refused:
        queue(imported_caller, agent_profile)

    assert refused.value.refusal.opens_at == first_at + timedelta(days=7)
    assert "has 2 calls within 7 days (at most 2" in refused.value.refusal.message
    clock.move_to(first_at + timedelta(days=7, seconds=1))
    assert queue(imported_caller, agent_profile)


def test_no_limit_when_the_setting_is_zero(clock, settings, imported_caller, agent_profile):
    settings.NUMBER_CALLS_PER_24H = 0
    for _ in range(5):
        queue(imported_caller, agent_profile)
    assert Call.objects.count() == 5


def test_a_call_booked_for_later_counts_from_when_it_is_booked(
    clock, imported_caller, agent_profile
):
    """A call scheduled for tomorrow morning holds its place now: two calls today and one
    booked for tomorrow leave no room for a third today (the 24 hours around tomorrow's call
    include now), so the limit can never be found broken when the scheduled call comes."""
    queue(imported_caller, agent_profile)
    queue(imported_caller, agent_profile)
    queue(imported_caller, agent_profile, scheduled_for=clock.now() + timedelta(hours=23))

    with pytest.raises(CallRefused):
        queue(imported_caller, agent_profile)


# -- right before dialing ----------------------------------------------------------------------


def test_the_limits_are_counted_again_right_before_dialing(
    agora, simulator, clock, settings, imported_caller, agent_profile
):
    """A limit lowered while calls wait: the call placed first finds the other counting and is
    not dialed (canceled, its rule named); the other, then alone, is dialed."""
    first = queue(imported_caller, agent_profile)
    second = queue(imported_caller, agent_profile)
    settings.NUMBER_CALLS_PER_24H = 1

    assert call_place(call_id=second.pk) == "refused"
    assert call_place(call_id=first.pk) == "placed"

    second.refresh_from_db()
    assert (second.status, second.refused_by_rule) == (CallStatus.CANCELED, Rule.CALL_FREQUENCY)
    assert second.end_reason.startswith("not dialed: +14155550150 has 1 call within 24 hours")
    assert counted_calls() == 1


# -- campaign contacts --------------------------------------------------------------------------


def test_a_campaign_contact_over_the_limit_waits_until_it_allows(
    make_campaign, clock, imported_caller, agent_profile
):
    first_at = clock.now()
    for _ in range(3):  # three single calls to the contact's number this morning
        queue(imported_caller, agent_profile)
    campaign = make_campaign([CALLEE, "+14155550151"])
    campaign_start(campaign=campaign)

    assert dispatch() == {campaign.pk: 1}  # the other contact only

    entry = campaign.contacts.get(contact__phone=CALLEE)
    assert entry.status == CampaignContact.Status.PENDING and entry.attempts == 0
    assert entry.next_attempt_at == first_at + timedelta(hours=24)
    assert entry.note == f"{FREQUENCY_NOTE}; next allowed at 2026-11-26 18:00 UTC"
    [reason] = campaigns_waiting([Campaign.objects.get(pk=campaign.pk)])[campaign.pk]
    assert reason == (
        "1 contact is held back by the call limits of their numbers (calls from every campaign "
        "and single call count): the next may be called at 2026-11-26 18:00 UTC (in 1 day)."
    )

    clock.move_to(first_at + timedelta(hours=24, minutes=1))
    assert dispatch() == {campaign.pk: 1}
    entry.refresh_from_db()
    assert entry.status == CampaignContact.Status.IN_PROGRESS


def test_a_campaigns_own_limits_narrow_the_accounts_never_widen_them(
    make_campaign, clock, imported_caller, agent_profile
):
    queue(imported_caller, agent_profile)
    strict = make_campaign([CALLEE], calls_per_number_24h=1)
    lenient = make_campaign(["+14155550151"], calls_per_number_24h=9)
    for _ in range(3):
        queue(imported_caller, agent_profile, to_number="+14155550151")
    for campaign in (strict, lenient):
        campaign_start(campaign=campaign)

    assert dispatch() == {strict.pk: 0, lenient.pk: 0}

    assert strict.contacts.get().note.startswith(FREQUENCY_NOTE)  # 1 call: its own limit is 1
    assert lenient.contacts.get().note.startswith(FREQUENCY_NOTE)  # 3 calls: the account's 3
    assert CallLimits.for_campaign(lenient) == CallLimits(per_24h=3, per_7d=0)
    assert CallLimits.for_campaign(strict) == CallLimits(per_24h=1, per_7d=0)


@pytest.mark.parametrize(
    ("account", "campaign", "effective"),
    [(3, None, 3), (3, 0, 3), (3, 5, 3), (3, 2, 2), (0, 2, 2), (0, None, 0), (0, 0, 0)],
)
def test_the_stricter_of_the_two_limits_holds_0_meaning_none(
    settings, make_campaign, account, campaign, effective
):
    settings.NUMBER_CALLS_PER_24H = account
    limits = CallLimits.for_campaign(make_campaign(calls_per_number_24h=campaign))
    assert limits.per_24h == effective


def test_two_contacts_with_one_number_in_one_chunk_book_only_what_the_limit_allows(
    make_campaign, clock, settings
):
    from tests.support.factories import ContactFactory, ContactListFactory

    settings.NUMBER_CALLS_PER_24H = 1
    campaign = make_campaign([CALLEE, "+14155550151"])
    other_list = ContactListFactory()  # the same number in a second list of the campaign
    ContactFactory(contact_list=other_list, phone=CALLEE, first_name="Bea")
    campaign.contact_lists.add(other_list)
    campaign_start(campaign=campaign)

    assert dispatch_campaign(campaign_id=campaign.pk, now=clock.now()) == 2

    assert counted_calls() == 1
    held = campaign.contacts.get(contact__phone=CALLEE, status=CampaignContact.Status.PENDING)
    assert held.note.startswith(FREQUENCY_NOTE)


def test_changing_a_paused_campaigns_limits_looks_at_its_held_contacts_again(
    make_campaign, clock, imported_caller, agent_profile
):
    from campaigns.services.campaigns import campaign_pause, campaign_update

    for _ in range(3):
        queue(imported_caller, agent_profile)
    campaign = make_campaign([CALLEE])
    campaign_start(campaign=campaign)
    dispatch()
    campaign_pause(campaign=campaign)

    campaign_update(campaign=campaign, changes={"calls_per_number_24h": 5})

    entry = campaign.contacts.get()
    assert entry.next_attempt_at <= clock.now() and entry.note == "call limits changed"


# -- several bookers at once (PostgreSQL) --------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_bookers_racing_for_one_number_never_pass_the_limit(
    clock, make_campaign, imported_caller, agent_profile
):
    """Eight threads, each its own database session, book calls to one number at the same
    moment: single calls and two campaigns' dispatchers. The lock per number makes each count
    the others' bookings: exactly the limit's three calls are booked."""
    campaigns = [make_campaign([CALLEE]) for _ in range(2)]
    for campaign in campaigns:
        campaign_start(campaign=campaign)
    start = threading.Barrier(8)
    outcomes: list[str] = []

    def single():
        try:
            queue(imported_caller, agent_profile)
            outcomes.append("booked")
        except CallRefused:
            outcomes.append("refused")

    def dispatcher(campaign):
        made = dispatch_campaign(campaign_id=campaign.pk, now=clock.now())
        outcomes.append("booked" if made else "refused")

    def run(work):
        try:
            start.wait(timeout=10)
            work()
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=run, args=(single,)) for _ in range(6)]
    threads += [threading.Thread(target=run, args=(lambda c=c: dispatcher(c),)) for c in campaigns]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(outcomes) == 8
    assert outcomes.count("booked") == 3
    assert counted_calls() == 3


# -- properties ---------------------------------------------------------------------------------


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    gaps=st.lists(st.integers(min_value=0, max_value=2 * 24 * 60), min_size=1, max_size=12),
    per_24h=st.integers(min_value=1, max_value=4),
    per_7d=st.sampled_from([0, 3, 6]),
)
def test_no_24_hours_and_no_7_days_hold_more_calls_than_the_limits(
    clock, settings, imported_caller, agent_profile, gaps, per_24h, per_7d
):
    """Calls asked for at random gaps (minutes) are booked or refused; whatever the sequence,
    no 24 hours and no 7 days hold more booked calls than the limits, and a refusal's "next
    allowed" time is exact: the call is allowed then and not a minute before."""
    settings.NUMBER_CALLS_PER_24H, settings.NUMBER_CALLS_PER_7D = per_24h, per_7d
    settings.CALLING_HOURS_GUARD_START, settings.CALLING_HOURS_GUARD_END = "00:00", "23:59:59"
    Call.objects.all().delete()
    start = clock.now()
    booked = []
    try:
        for gap in gaps:
            clock.advance(minutes=gap)
            try:
                booked.append(
                    queue(imported_caller, agent_profile, callee_timezone="UTC").queued_at
                )
            except CallRefused as refused:
                opens_at = refused.refusal.opens_at
                assert opens_at > clock.now()
                # allowed at opens_at by both limits ...
                assert len([at for at in booked if at > opens_at - timedelta(hours=24)]) < per_24h
                assert not per_7d or (
                    len([at for at in booked if at > opens_at - timedelta(days=7)]) < per_7d
                )
                # ... and not a minute before
                before = [at for at in booked if at > opens_at - timedelta(minutes=1, hours=24)]
                week_before = [at for at in booked if at > opens_at - timedelta(minutes=1, days=7)]
                assert len(before) >= per_24h or (per_7d and len(week_before) >= per_7d)
        for at in booked:
            assert len([b for b in booked if at <= b < at + timedelta(hours=24)]) <= per_24h
            if per_7d:
                assert len([b for b in booked if at <= b < at + timedelta(days=7)]) <= per_7d
    finally:
        clock.move_to(start)


# -- where staff and CRMs see and set them -------------------------------------------------------


def test_the_campaign_page_shows_the_limits_the_empty_fields_stand_for_and_who_is_held(
    admin_client, make_campaign, settings, imported_caller, agent_profile
):
    settings.NUMBER_CALLS_PER_7D = 10
    for _ in range(3):
        queue(imported_caller, agent_profile)
    campaign = make_campaign([CALLEE])
    campaign_start(campaign=campaign)
    dispatch()

    page = admin_client.get(f"/admin/campaigns/campaign/{campaign.pk}/change/").content.decode()

    assert "Call limits per number" in page
    assert "Empty or 0: the account's (3 in 24 hours; 10 in 7 days)." in page
    assert "1 contact is held back by the call limits of their numbers" in page


def test_crms_set_a_campaigns_limits_through_the_api(
    api_client, agent_profile, caller_number, contact_list
):
    from tests.campaigns.test_api import API, campaign_body

    body = {**campaign_body(agent_profile, caller_number, contact_list), "calls_per_number_24h": 2}
    created = api_client.post(f"{API}/campaigns/", body, format="json")

    assert created.status_code == 201, created.json()
    assert (created.json()["calls_per_number_24h"], created.json()["calls_per_number_7d"]) == (
        2,
        None,
    )
    refused = api_client.post(
        f"{API}/campaigns/", {**body, "calls_per_number_7d": -1}, format="json"
    )
    assert refused.status_code == 400
    assert "calls_per_number_7d" in str(refused.json())


# Operations on one number, each after a gap (minutes): a single call now, one booked for
# later (hours ahead), a new campaign with a contact of that number dispatched, the queued calls
# that are due placed, the oldest queued call hung up before it is placed.
OPERATIONS = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=12 * 60),
        st.sampled_from(["single", "later", "campaign", "place", "hang_up"]),
        st.integers(min_value=1, max_value=30),
    ),
    min_size=1,
    max_size=10,
)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations=OPERATIONS, per_24h=st.integers(min_value=1, max_value=3))
def test_whatever_books_and_places_calls_no_24_hours_hold_more_dialed_calls_than_the_limit(
    agora, simulator, clock, settings, make_campaign, imported_caller, agent_profile,
    operations, per_24h,
):  # fmt: skip
    """Every path at once: single calls, calls booked for later, campaigns' dispatches (each
    its own campaign), placements and hang-ups, in any order and timing. However they
    interleave, the calls actually sent to Agora never number more than the limit in any 24
    hours (by when they were dialed). (What the check right before dialing adds, for a limit
    lowered while calls wait, is test_the_limits_are_counted_again_right_before_dialing's.)"""
    from telephony.services.calls import calls_place

    settings.NUMBER_CALLS_PER_24H = per_24h
    settings.CALLING_HOURS_GUARD_START, settings.CALLING_HOURS_GUARD_END = "00:00", "23:59:59"
    Call.objects.all().delete()
    clock.advance(days=2)  # forward only (the simulator's clock never goes back): a clean day
    for gap, kind, hours in operations:
        clock.advance(minutes=gap)
        try:
            if kind == "single":
                queue(imported_caller, agent_profile, callee_timezone="UTC")
            elif kind == "later":
                later = clock.now() + timedelta(hours=hours)
                queue(imported_caller, agent_profile, callee_timezone="UTC", scheduled_for=later)
            elif kind == "campaign":
                campaign = make_campaign([CALLEE], weekdays=list(range(7)))
                Contact.objects.filter(contact_list__campaigns=campaign).update(timezone="UTC")
                campaign_start(campaign=campaign)
                dispatch_campaign(campaign_id=campaign.pk, now=clock.now())
        except CallRefused as refused:
            assert refused.refusal.rule == Rule.CALL_FREQUENCY
        if kind == "place":
            due = Call.objects.filter(status=CallStatus.QUEUED).exclude(
                scheduled_for__gt=clock.now()
            )
            calls_place([call.pk for call in due])
            for agent_id in Call.objects.exclude(agent_id=None).values_list("agent_id", flat=True):
                simulator.hangup(agent_id)  # its place at the simulator freed
        elif kind == "hang_up":
            queued = Call.objects.filter(status=CallStatus.QUEUED).order_by("queued_at").first()
            if queued is not None:
                call_hangup(call_id=queued.pk)

    dialed = sorted(Call.objects.exclude(agent_id=None).values_list("dialed_at", flat=True))
    for at in dialed:
        assert len([other for other in dialed if at <= other < at + timedelta(hours=24)]) <= per_24h
