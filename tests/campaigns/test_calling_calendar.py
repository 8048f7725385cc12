"""The calling calendar (campaigns.services.calling_calendar): regional calling-hours rules,
public holidays and company blackout dates narrow every call's window, single calls and campaign
calls alike, at booking and again right before dialing; the rule that held a call is named.

Dates used (the suite's clock is pinned at Wednesday 2026-11-25 18:00 UTC):
- Thursday 2026-11-26 is Thanksgiving (a US public holiday), Friday 2026-11-27 a California one.
- Sunday 2026-11-29 16:00 UTC is 10:00 in Texas and Louisiana (America/Chicago): Texas allows
  calls from 12:00 on Sundays, Louisiana none (the shipped rules).
"""

import csv
import functools
import importlib
import io
import threading
from datetime import UTC, date, datetime, time, timedelta

import holidays as holiday_calendars
import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import close_old_connections, connection
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaigns.models import (
    BlackoutDate,
    CallingHoursRule,
    CampaignContact,
    Contact,
    DoNotCall,
    weekday_words,
)
from campaigns.services.callbacks import callback_schedule
from campaigns.services.calling_calendar import CallingCalendar, campaign_hours_by_region
from campaigns.services.campaigns import campaign_record_call_outcome, campaign_start
from campaigns.services.contacts import (
    contact_import_run,
    contact_import_start,
    contact_upsert,
)
from campaigns.services.dialing_rules import _hours_refusal
from campaigns.services.dispatch import dispatch, dispatch_campaign
from campaigns.services.waiting import WINDOW_NOTE, campaign_start_preview
from campaigns.windows import CallingWindow, DayHours, contact_zones
from telephony.callee_regions import Region, RegionError, callee_region, number_region, parse_region
from telephony.models import Call
from telephony.rules import TIME_RULES, CallRefused, Rule, RulesOverride
from telephony.services.calls import call_place
from telephony.states import CallStatus
from tests.support.clock import PINNED_AT as PINNED
from tests.telephony.test_dialing_rules import queue

pytestmark = pytest.mark.django_db
shipped = importlib.import_module("campaigns.migrations.0015_default_calling_hours_rules")
CS = CampaignContact.Status
SAN_FRANCISCO, DALLAS, NEW_ORLEANS = "+14155550150", "+12145550150", "+15045550150"
THANKSGIVING_MORNING = datetime(2026, 11, 26, 18, 0, tzinfo=UTC)  # 10:00 in San Francisco
SUNDAY_MORNING = datetime(2026, 11, 29, 16, 0, tzinfo=UTC)  # 10:00 in Dallas and New Orleans
SUNDAY_NOON_IN_DALLAS = datetime(2026, 11, 29, 18, 0, tzinfo=UTC)
MONDAY_8_IN_NEW_ORLEANS = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)


@pytest.fixture
def holidays_on(settings):
    settings.SKIP_PUBLIC_HOLIDAYS = True


# -- where a callee is ----------------------------------------------------------------------------


def test_a_contacts_own_region_replaces_its_numbers_and_bad_codes_are_named():
    assert callee_region(SAN_FRANCISCO, "us-tx") == Region("US", "TX")
    assert callee_region(SAN_FRANCISCO, "") == Region("US", "CA")
    assert parse_region("CA-on").code == "CA-ON"
    with pytest.raises(RegionError, match="'ZZ' is not a state or province of US"):
        parse_region("US-ZZ")
    with pytest.raises(RegionError, match="is not a region code"):
        parse_region("Texas")


# -- single calls ---------------------------------------------------------------------------------


def test_a_single_call_on_a_sunday_morning_in_texas_waits_for_noon(
    clock, imported_caller, agent_profile
):
    clock.move_to(SUNDAY_MORNING, tick=False)

    with pytest.raises(CallRefused) as refused:
        queue(imported_caller, agent_profile, to_number=DALLAS)

    refusal = refused.value.refusal
    assert refusal.rule == Rule.REGIONAL_HOURS
    assert refusal.opens_at == SUNDAY_NOON_IN_DALLAS
    assert refusal.message == (
        "It is Sun 10:00 in America/Chicago for +12145550150: outside the calling hours of "
        "US-TX on Sundays (12:00-21:00; Texas Bus. & Com. Code 301.051); next allowed at "
        "2026-11-29 18:00 UTC."
    )
    assert queue(imported_caller, agent_profile, to_number=SAN_FRANCISCO)  # no rule there
    clock.move_to(SUNDAY_NOON_IN_DALLAS, tick=False)
    assert queue(imported_caller, agent_profile, to_number=DALLAS).status == CallStatus.QUEUED


def test_no_calls_on_sundays_in_louisiana_and_a_contacts_region_counts(
    clock, imported_caller, agent_profile
):
    clock.move_to(SUNDAY_MORNING, tick=False)
    with pytest.raises(CallRefused) as refused:
        queue(imported_caller, agent_profile, to_number=NEW_ORLEANS)

    assert refused.value.refusal.rule == Rule.REGIONAL_HOURS
    assert refused.value.refusal.opens_at == MONDAY_8_IN_NEW_ORLEANS
    assert "US-LA on Sundays (no calls; Louisiana" in refused.value.refusal.message


def test_a_public_holiday_holds_calls_only_while_holidays_are_kept(
    clock, settings, imported_caller, agent_profile
):
    clock.move_to(THANKSGIVING_MORNING, tick=False)
    settings.SKIP_PUBLIC_HOLIDAYS = True

    with pytest.raises(CallRefused) as refused:
        queue(imported_caller, agent_profile)

    refusal = refused.value.refusal
    assert refusal.rule == Rule.PUBLIC_HOLIDAY
    assert "2026-11-26 is Thanksgiving Day, a public holiday in US-CA" in refusal.message
    # Friday is California's Day After Thanksgiving: the next call is on Saturday, 08:00.
    assert refusal.opens_at == datetime(2026, 11, 28, 16, 0, tzinfo=UTC)
    settings.SKIP_PUBLIC_HOLIDAYS = False
    assert queue(imported_caller, agent_profile).status == CallStatus.QUEUED


def test_a_blackout_date_holds_every_call_unless_staff_override_the_hours(
    clock, imported_caller, agent_profile, django_user_model
):
    BlackoutDate.objects.create(first_day=date(2026, 11, 25), reason="office move")

    with pytest.raises(CallRefused) as refused:
        queue(imported_caller, agent_profile)

    refusal = refused.value.refusal
    assert refusal.rule == Rule.BLACKOUT_DATE
    assert "2026-11-25 is a company blackout date (office move)" in refusal.message
    assert refusal.opens_at == datetime(2026, 11, 26, 16, 0, tzinfo=UTC)  # 08:00 the next day
    supervisor = django_user_model.objects.create_user(username="supervisor", is_staff=True)
    supervisor.user_permissions.add(Permission.objects.get(codename="override_dialing_rules"))
    supervisor = django_user_model.objects.get(pk=supervisor.pk)  # fresh permission cache
    call = queue(
        imported_caller,
        agent_profile,
        override=RulesOverride(user=supervisor, reason="the customer is waiting for it"),
    )
    assert call.status == CallStatus.QUEUED


def test_a_blackout_added_after_booking_stops_the_call_right_before_dialing(
    clock, imported_caller, agent_profile, simulator
):
    call = queue(imported_caller, agent_profile)
    BlackoutDate.objects.create(
        first_day=date(2026, 11, 24), last_day=date(2026, 11, 25), reason="storm"
    )

    assert call_place(call_id=call.pk) == "refused"
    call.refresh_from_db()
    assert (call.status, call.refused_by_rule) == (CallStatus.CANCELED, Rule.BLACKOUT_DATE)


# -- campaign calls -------------------------------------------------------------------------------


def test_campaign_contacts_wait_for_their_regions_hours_and_say_which_rule(clock, make_campaign):
    clock.move_to(SUNDAY_MORNING, tick=False)
    campaign = make_campaign([SAN_FRANCISCO, DALLAS, NEW_ORLEANS])
    # A San Francisco number whose contact lives in Texas: its own region holds it too.
    Contact.objects.filter(phone=SAN_FRANCISCO).update(region="US-TX")
    campaign_start(campaign=campaign)

    assert dispatch() == {campaign.pk: 0}

    entries = {entry.contact.phone: entry for entry in campaign.contacts.select_related("contact")}
    assert {phone: (e.held_by, e.next_attempt_at) for phone, e in entries.items()} == {
        # Texas's rule, in its own time zone (its number's, Pacific): noon there.
        SAN_FRANCISCO: (Rule.REGIONAL_HOURS, datetime(2026, 11, 29, 20, 0, tzinfo=UTC)),
        DALLAS: (Rule.REGIONAL_HOURS, SUNDAY_NOON_IN_DALLAS),
        NEW_ORLEANS: (Rule.REGIONAL_HOURS, MONDAY_8_IN_NEW_ORLEANS),
    }
    assert all(
        entry.attempts == 0 and entry.note.startswith(WINDOW_NOTE) for entry in entries.values()
    )

    clock.move_to(SUNDAY_NOON_IN_DALLAS, tick=False)
    assert dispatch() == {campaign.pk: 1}
    clock.move_to(datetime(2026, 11, 29, 20, 0, tzinfo=UTC), tick=False)
    assert dispatch() == {campaign.pk: 1}
    clock.move_to(MONDAY_8_IN_NEW_ORLEANS, tick=False)
    assert dispatch() == {campaign.pk: 1}


def test_a_campaign_keeps_off_holidays_unless_it_allows_them(clock, make_campaign, holidays_on):
    clock.move_to(THANKSGIVING_MORNING, tick=False)
    keeps_off = make_campaign([SAN_FRANCISCO])
    allows = make_campaign(["+14155550151"], call_on_holidays=True)
    campaign_start(campaign=keeps_off)
    campaign_start(campaign=allows)

    assert dispatch() == {keeps_off.pk: 0, allows.pk: 1}

    held = keeps_off.contacts.get()
    assert held.held_by == Rule.PUBLIC_HOLIDAY
    assert held.next_attempt_at == datetime(2026, 11, 28, 16, 0, tzinfo=UTC)


def test_a_contact_queued_before_a_blackout_is_deferred_right_before_dialing(
    clock, make_campaign, simulator
):
    campaign = make_campaign([SAN_FRANCISCO])
    campaign_start(campaign=campaign)
    dispatch()
    call = Call.objects.get()
    BlackoutDate.objects.create(first_day=date(2026, 11, 25), reason="carrier outage")

    assert call_place(call_id=call.pk) == "refused"

    campaign_record_call_outcome(call_id=call.pk)
    entry = campaign.contacts.get()
    assert (entry.status, entry.attempts, entry.held_by) == (CS.PENDING, 0, Rule.BLACKOUT_DATE)
    assert entry.next_attempt_at == datetime(2026, 11, 26, 16, 0, tzinfo=UTC)


def test_a_callback_lands_after_the_holidays(clock, make_campaign, holidays_on):
    campaign = make_campaign([SAN_FRANCISCO])
    campaign_start(campaign=campaign)
    entry = campaign.contacts.get()

    callback_schedule(entry_id=entry.pk, when="tomorrow at 10 am")

    # Thursday and Friday are holidays in California: Saturday at the window's start.
    entry.refresh_from_db()
    assert entry.callback_at == datetime(2026, 11, 28, 16, 0, tzinfo=UTC)


def test_the_start_preview_counts_contacts_their_region_holds(clock, make_campaign):
    clock.move_to(SUNDAY_MORNING, tick=False)
    campaign = make_campaign([SAN_FRANCISCO, DALLAS, NEW_ORLEANS])

    preview = campaign_start_preview(campaign)

    assert (preview.callable_now, preview.waiting) == (1, 2)
    assert preview.next_opening == SUNDAY_NOON_IN_DALLAS
    assert "the next opens at 12:00 their time (2026-11-29 18:00 UTC, in 2 h)" in " ".join(
        preview.sentences(campaign, SUNDAY_MORNING)
    )


# -- the rules as staff and CRMs set them ----------------------------------------------------------


def test_the_shipped_rules_are_in_the_table():
    rows = {
        (rule.country, rule.region, tuple(rule.weekdays), rule.no_calls)
        for rule in CallingHoursRule.objects.all()
    }
    assert ("US", "LA", (6,), True) in rows
    assert ("US", "FL", (0, 1, 2, 3, 4, 5, 6), False) in rows
    assert len(rows) == len(shipped.DEFAULT_RULES)


def test_staff_edit_the_rules_and_blackout_dates_with_clear_errors(admin_client):
    add_rule = reverse("admin:campaigns_callinghoursrule_add")
    bad = admin_client.post(
        add_rule, {"country": "us", "region": "zz", "weekdays": ["6"], "start": "10:00",
                   "end": "09:00"},
    )  # fmt: skip
    page = bad.content.decode()
    assert "&#x27;ZZ&#x27; is not a state or province of US" in page
    assert "The latest time must be after the earliest." in page

    good = admin_client.post(
        add_rule, {"country": "us", "region": "ny", "weekdays": ["6"], "start": "12:00",
                   "end": "17:00", "source": "house rule"},
    )  # fmt: skip
    assert good.status_code == 302
    rule = CallingHoursRule.objects.get(source="house rule")
    assert (rule.country, rule.region, rule.weekdays) == ("US", "NY", [6])
    listing = admin_client.get(reverse("admin:campaigns_callinghoursrule_changelist"))
    assert "12:00-17:00" in listing.content.decode()

    backwards = admin_client.post(
        reverse("admin:campaigns_blackoutdate_add"),
        {"first_day": "2026-12-24", "last_day": "2026-12-23", "reason": "holidays"},
    )
    assert "The last day cannot come before the first." in backwards.content.decode()
    assert not BlackoutDate.objects.exists()


def test_a_contacts_region_is_set_through_the_api_and_the_csv(contact_list, api_client):
    contact = contact_upsert(contact_list=contact_list, phone=SAN_FRANCISCO, region="us-tx")
    assert contact.region == "US-TX"
    with pytest.raises(ValidationError) as error:
        contact_upsert(contact_list=contact_list, phone=SAN_FRANCISCO, region="US-XX")
    assert error.value.message_dict == {"region": ["'XX' is not a state or province of US."]}
    contact.refresh_from_db()
    assert contact.region == "US-TX"  # nothing stored is lost

    answer = api_client.post(
        f"/api/v1/contact-lists/{contact_list.pk}/contacts/bulk/",
        {"contacts": [{"phone": DALLAS, "region": "us-la"}, {"phone": NEW_ORLEANS,
                       "region": "Louisiana"}]},
        format="json",
    )  # fmt: skip
    assert answer.status_code == 200, answer.content
    assert answer.json()["errors"][0]["message"].startswith("'Louisiana' is not a region code")
    assert Contact.objects.get(phone=DALLAS).region == "US-LA"

    upload = SimpleUploadedFile("c.csv", b"phone,region\n+15045550151,us-la\n+15045550152,ZZ-1\n")
    record = contact_import_run(
        import_id=contact_import_start(
            contact_list=contact_list, uploaded_file=upload, file_name="c.csv"
        ).pk
    )
    assert Contact.objects.get(phone="+15045550151").region == "US-LA"
    assert (
        record.errors[0]["line"] == 3
        and "'ZZ' is not a country code" in (record.errors[0]["reason"])
    )


def test_a_single_call_takes_the_callees_region_from_the_api(clock, api_client, imported_caller,
                                                            agent_profile):  # fmt: skip
    clock.move_to(SUNDAY_MORNING, tick=False)
    body = {"to_number": "+14155550150", "caller_id": imported_caller.e164,
            "agent": agent_profile.name, "variables": {"first_name": "Ada"}}  # fmt: skip

    refused = api_client.post("/api/v1/calls/", {**body, "callee_region": "us-la"}, format="json")
    bad = api_client.post("/api/v1/calls/", {**body, "callee_region": "US-QQ"}, format="json")

    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "regional_hours"
    assert bad.status_code == 400
    assert bad.json()["error"]["fields"]["callee_region"] == [
        "'QQ' is not a state or province of US."
    ]
    placed = api_client.post("/api/v1/calls/", body, format="json")  # California: 08:00 there
    assert placed.status_code == 201
    call = Call.objects.get()
    call.callee_region = "US-LA"  # as if given: the last look before dialing reads it too
    call.save(update_fields=["callee_region"])
    assert call_place(call_id=call.pk) == "refused"


# -- properties -----------------------------------------------------------------------------------

GUARD = (time(8), time(21))
REGIONS = {  # number, the region its area code gives
    "+12145550150": "US-TX", "+15045550150": "US-LA", "+14015550150": "US-RI",
    "+13055550150": "US-FL", "+14155550150": "US-CA", "+12125550150": "US-NY",
    "+14165550150": "CA-ON", "+442071234567": "GB", "+18055550150": "US-CA",
}  # fmt: skip
ZONE_NAMES = ["", "America/New_York", "America/Los_Angeles", "Europe/London", "Pacific/Auckland"]
DST_CHANGES = [  # instants near clocks changing in the zones above
    datetime(2026, 3, 8, 10, 0, tzinfo=UTC), datetime(2026, 11, 1, 9, 0, tzinfo=UTC),
    datetime(2026, 3, 29, 1, 0, tzinfo=UTC), datetime(2026, 10, 25, 1, 0, tzinfo=UTC),
    datetime(2027, 3, 14, 10, 0, tzinfo=UTC), datetime(2026, 4, 4, 14, 0, tzinfo=UTC),
]  # fmt: skip


def shipped_calendar(blackouts: dict[date, str], now: datetime) -> CallingCalendar:
    """The shipped rules, in memory (no database: the property runs thousands of checks)."""
    rules: dict[Region, list[DayHours]] = {}
    for country, region, days, hours, _ in shipped.DEFAULT_RULES:
        hours = (shipped.as_time(hours[0]), shipped.as_time(hours[1])) if hours else (None, None)
        rules.setdefault(Region(country, region), []).append(DayHours(frozenset(days), *hours))
    return CallingCalendar(
        rules={region: tuple(day_hours) for region, day_hours in rules.items()},
        sources={},
        blackouts=blackouts,
        years=tuple(range(now.year - 1, now.year + 3)),
    )


@functools.lru_cache(maxsize=256)
def oracle_holidays(region: Region, year: int):
    return holiday_calendars.country_holidays(
        region.country, subdiv=region.subdivision or None, years=year
    )


def allowed(at, *, zones, region, campaign, blackouts, skip_holidays) -> bool:
    """The effective window, worked out from first principles (the oracle)."""
    start, end, weekdays = campaign
    for zone in zones:
        local = at.astimezone(zone)
        day, wall = local.date(), local.time().replace(tzinfo=None)
        if day in blackouts or day.weekday() not in weekdays:
            return False
        if skip_holidays and region is not None and day in oracle_holidays(region, day.year):
            return False
        if not max(start, GUARD[0]) <= wall < min(end, GUARD[1]):
            return False
        for country, subdivision, days, hours, _ in shipped.DEFAULT_RULES:
            applies = (
                region is not None
                and country == region.country
                and (subdivision in ("", region.subdivision))
            )
            if applies and day.weekday() in days:
                if hours is None:
                    return False
                if not shipped.as_time(hours[0]) <= wall < shipped.as_time(hours[1]):
                    return False
    return True


INSTANTS = st.one_of(
    st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
    ),
    st.builds(
        lambda base, minutes: base + timedelta(minutes=minutes),
        st.sampled_from([*DST_CHANGES, THANKSGIVING_MORNING, SUNDAY_MORNING]),
        st.integers(min_value=-36 * 60, max_value=36 * 60),
    ),
)


@settings(max_examples=300, deadline=None)
@given(
    phone=st.sampled_from(sorted(REGIONS)),
    zone_name=st.sampled_from(ZONE_NAMES),
    explicit_region=st.sampled_from(["", "US-TX", "US-RI", "CA-BC"]),
    now=INSTANTS,
    start=st.sampled_from([time(0), time(7), time(9), time(11, 30), time(13)]),
    end=st.sampled_from([time(12), time(17), time(20, 30), time(23, 59)]),
    weekdays=st.frozensets(st.integers(0, 6), min_size=1),
    blackout_offsets=st.frozensets(st.integers(-1, 20), max_size=6),
    skip_holidays=st.booleans(),
)
def test_no_instant_outside_the_effective_window_is_allowed_and_each_opening_is_the_first(
    phone, zone_name, explicit_region, now, start, end, weekdays, blackout_offsets, skip_holidays
):
    """Zones (the number's, or one given), regions (the area code's, or one given), weekdays,
    holidays, blackout dates and instants around clock changes: a call is allowed exactly when
    the oracle says so, and a refusal's "next allowed" is allowed, with no earlier half hour
    (nor the second before it) allowed."""
    if start >= end:
        start, end = end, start
    zones = contact_zones(phone, zone_name)
    region = callee_region(phone, explicit_region)
    blackouts = {now.date() + timedelta(days=offset): "closed" for offset in blackout_offsets}
    campaign = (start, end, weekdays)
    check = {"zones": zones, "region": region, "campaign": campaign, "blackouts": blackouts,
             "skip_holidays": skip_holidays}  # fmt: skip
    base = CallingWindow.for_campaign(start=start, end=end, weekdays=weekdays)

    refusal = _hours_refusal(
        phone, zone_name, explicit_region, now=now, base=base, rule=Rule.CAMPAIGN_WINDOW,
        calendar=shipped_calendar(blackouts, now), skip_holidays=skip_holidays,
    )  # fmt: skip

    assert (refusal is None) == allowed(now, **check)
    if refusal is not None and refusal.look_again:  # nothing open as far as one can see
        assert refusal.opens_at == now + timedelta(days=1)
        for hour in range(0, 30 * 24, 1):
            assert not allowed(now + timedelta(hours=hour), **check)
    elif refusal is not None and refusal.opens_at is not None:
        opens_at = refusal.opens_at
        assert allowed(opens_at, **check)
        assert not allowed(opens_at - timedelta(seconds=1), **check)
        probe, step = now, timedelta(minutes=30)
        while probe < min(opens_at, now + timedelta(days=30)):
            assert not allowed(probe, **check), probe
            probe += step if probe < now + timedelta(days=3) else 2 * step


# -- several dispatchers at once (PostgreSQL) -----------------------------------------------------

RACE_INSTANTS = [
    SUNDAY_MORNING, SUNDAY_NOON_IN_DALLAS, THANKSGIVING_MORNING, MONDAY_8_IN_NEW_ORLEANS,
    datetime(2026, 11, 1, 15, 30, tzinfo=UTC), datetime(2027, 3, 14, 13, 0, tzinfo=UTC),
]  # fmt: skip
RACE_NUMBERS = [DALLAS, NEW_ORLEANS, SAN_FRANCISCO, "+13055550150", "+14015550150"]


@pytest.mark.django_db(transaction=True)
@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    now=st.sampled_from(RACE_INSTANTS),
    holidays_allowed=st.lists(st.booleans(), min_size=3, max_size=3),
    blackout=st.booleans(),
)
def test_racing_dispatchers_call_no_one_outside_their_window_nor_a_number_over_its_limit(
    clock, settings, make_campaign, now, holidays_allowed, blackout
):
    """Three campaigns share five numbers (in Texas, Louisiana, California, Florida and Rhode
    Island) and race: six dispatchers, each its own database session, at one instant. Every
    call booked is inside its contact's effective window, every contact inside it is called
    unless its number's limit (1 a day) was used by another campaign, and no number gets two."""
    settings.SKIP_PUBLIC_HOLIDAYS = True
    settings.NUMBER_CALLS_PER_24H = 1
    CallingHoursRule.objects.all().delete()
    for country, region, days, hours, source in shipped.DEFAULT_RULES:
        CallingHoursRule.objects.create(
            country=country, region=region, weekdays=days, no_calls=hours is None,
            start=shipped.as_time(hours[0]) if hours else None,
            end=shipped.as_time(hours[1]) if hours else None, source=source,
        )  # fmt: skip
    if blackout:
        BlackoutDate.objects.create(first_day=date(2026, 11, 1), reason="drill")
    clock.move_to(now, tick=False)
    campaigns = [
        make_campaign(RACE_NUMBERS, call_on_holidays=allows) for allows in holidays_allowed
    ]
    for campaign in campaigns:
        campaign_start(campaign=campaign)
    start = threading.Barrier(6)

    errors: list[BaseException] = []

    def run(campaign):
        try:
            start.wait(timeout=30)
            dispatch_campaign(campaign_id=campaign.pk, now=now)
        except BaseException as error:  # reported below, not lost in a thread
            errors.append(error)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=run, args=(c,)) for c in campaigns + campaigns]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads) and not errors, errors

    try:
        blackouts = {date(2026, 11, 1): "drill"} if blackout else {}
        entries = [
            (entry, allows)
            for campaign, allows in zip(campaigns, holidays_allowed, strict=True)
            for entry in CampaignContact.objects.filter(campaign=campaign).select_related("contact")
        ]
        called = {entry.contact.phone for entry, _ in entries if entry.attempts}
        for entry, allows in entries:
            phone = entry.contact.phone
            inside = allowed(
                now, zones=contact_zones(phone), region=number_region(phone),
                campaign=(time(8), time(21), frozenset(range(7))), blackouts=blackouts,
                skip_holidays=not allows,
            )  # fmt: skip
            if entry.attempts:
                assert inside, (phone, now)
            elif inside:  # held only because another campaign called the number
                assert entry.held_by == Rule.CALL_FREQUENCY and phone in called, (phone, entry)
            else:  # the limits are looked at first: a number called elsewhere says so
                assert entry.held_by in TIME_RULES or (
                    entry.held_by == Rule.CALL_FREQUENCY and phone in called
                ), (phone, entry.held_by)
        per_number = Call.objects.values_list("to_number", flat=True)
        assert len(list(per_number)) == len(set(per_number)) == len(called)
    finally:
        Call.objects.all().delete()
        for campaign in campaigns:
            campaign.delete()
        Contact.objects.all().delete()
        BlackoutDate.objects.all().delete()


def test_a_bad_time_zone_is_named_in_its_own_case(contact_list):
    with pytest.raises(ValidationError) as error:
        contact_upsert(contact_list=contact_list, phone=SAN_FRANCISCO, timezone="Mars/Olympus")

    assert error.value.message_dict == {
        "timezone": [
            "Timezone 'Mars/Olympus' is not an IANA time zone name (e.g. America/New_York)."
        ]
    }


def test_the_campaign_page_shows_the_hours_of_each_region(admin_client, make_campaign, holidays_on):
    campaign = make_campaign([SAN_FRANCISCO, DALLAS, NEW_ORLEANS, "+12145550151"])
    BlackoutDate.objects.create(first_day=date(2026, 12, 1), reason="inventory")

    rows = {str(row.region): row for row in campaign_hours_by_region(campaign, now=PINNED)}
    page = admin_client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk]))

    assert list(rows) == ["US-TX", "US-CA", "US-LA"]  # most contacts first
    assert rows["US-TX"].contacts == 2
    assert rows["US-TX"].hours == ("09:00-21:00",) * 6 + ("12:00-21:00",)
    assert rows["US-LA"].hours == ("08:00-20:00",) * 6 + ("",)
    assert rows["US-CA"].days_off == (
        "Thu 26 Nov: Thanksgiving Day",
        "Fri 27 Nov: Day After Thanksgiving",
        "Tue 01 Dec: inventory",
    )
    assert rows["US-TX"].sources == ("Texas Bus. & Com. Code 301.051",)
    html = page.content.decode()
    assert 'id="campaign-hours-by-region"' in html
    assert '<tr data-region="US-LA">' in html and "Louisiana: no telephone solicitations" in html


def test_weekdays_in_words_join_runs():
    assert weekday_words([6, 0, 1, 2, 3, 4]) == "Mon-Fri, Sun"
    assert weekday_words([5]) == "Sat"
    assert weekday_words(range(7)) == "Mon-Sun"


# -- the compliance log ---------------------------------------------------------------------------


def compliance_csv(client, first="2026-11-25", last="2026-11-25") -> list[dict]:
    answer = client.get(
        reverse("admin:campaigns_compliance_log"), {"first_day": first, "last_day": last}
    )
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("text/csv")
    text = b"".join(answer.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_the_compliance_log_lists_each_call_with_the_rules_it_was_checked_against(
    admin_client, clock, make_campaign, imported_caller, agent_profile, holidays_on,
    django_user_model, simulator,
):  # fmt: skip
    single = queue(imported_caller, agent_profile)  # San Francisco, 10:00 there
    campaign = make_campaign([DALLAS], name="Renewals", weekdays=[0, 1, 2, 3, 4])
    campaign_start(campaign=campaign)
    dispatch()
    campaign_call = Call.objects.exclude(pk=single.pk).get()
    DoNotCall.objects.create(phone=NEW_ORLEANS)
    supervisor = django_user_model.objects.create_user(username="supervisor", is_staff=True)
    supervisor.user_permissions.add(Permission.objects.get(codename="override_dialing_rules"))
    supervisor = django_user_model.objects.get(pk=supervisor.pk)
    urgent = queue(
        imported_caller, agent_profile, to_number=NEW_ORLEANS,
        override=RulesOverride(user=supervisor, reason="the customer asked to be called"),
    )  # fmt: skip
    clock.advance(days=1)
    queue(imported_caller, agent_profile, to_number="+14155550199", callee_timezone="UTC",
          override=RulesOverride(user=supervisor, reason="next day"))  # fmt: skip

    rows = {row["call id"]: row for row in compliance_csv(admin_client)}

    assert set(rows) == {str(single.pk), str(campaign_call.pk), str(urgent.pk)}  # not the 26th
    first = rows[str(single.pk)]
    assert (first["number called"], first["callee region"]) == (SAN_FRANCISCO, "US-CA")
    assert first["booked at (UTC)"] == "2026-11-25 18:00:00"
    assert first["callee's local time when booked (or scheduled for)"] == (
        "2026-11-25 Wed 10:00 America/Los_Angeles"
    )
    assert first["hours allowed that day (guard and region)"] == "08:00-21:00"
    assert (first["public holidays"], first["do-not-call list"]) == ("kept off", "not listed")
    assert (first["call limits (24 h / 7 d)"], first["campaign"]) == ("3 / 0", "")
    texas = rows[str(campaign_call.pk)]
    assert (texas["campaign"], texas["campaign window"]) == ("Renewals", "Mon-Fri 08:00-21:00")
    assert texas["hours allowed that day (guard and region)"] == "09:00-21:00"
    assert texas["regional rules applied"] == "Texas Bus. & Com. Code 301.051"
    assert texas["contact id"] == str(campaign.contacts.get().contact_id)
    assert (texas["campaign requires consent"], texas["consent on record"]) == ("yes", "yes")
    overridden = rows[str(urgent.pk)]
    assert overridden["do-not-call list"] == "listed"
    assert overridden["rules overridden"] == "calling_hours, do_not_call"
    assert (overridden["overridden by"], overridden["override reason"]) == (
        "supervisor", "the customer asked to be called",
    )  # fmt: skip

    BlackoutDate.objects.create(first_day=date(2026, 11, 26), reason="outage")
    assert call_place(call_id=single.pk) == "refused"
    stopped = {row["call id"]: row for row in compliance_csv(admin_client)}[str(single.pk)]
    assert stopped["stopped right before dialing by"] == "blackout_date"


def test_the_compliance_log_exports_the_single_calls_refused_when_asked_for(
    admin_client, client, clock, imported_caller, agent_profile, django_user_model
):
    DoNotCall.objects.create(phone=NEW_ORLEANS)
    with pytest.raises(CallRefused):
        queue(imported_caller, agent_profile, to_number=NEW_ORLEANS, requested_by="ops")
    clock.advance(days=1)
    with pytest.raises(CallRefused):
        queue(imported_caller, agent_profile, to_number=NEW_ORLEANS)  # the 26th: not exported
    url = reverse("admin:campaigns_compliance_log")
    days = {"first_day": "2026-11-25", "last_day": "2026-11-25"}

    answer = admin_client.get(url, {**days, "log": "refused"})

    assert 'filename="refused-calls-2026-11-25-2026-11-25.csv"' in answer["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(answer.streaming_content).decode())))
    assert [(row["number asked for"], row["refused by"], row["asked by"]) for row in rows] == [
        (NEW_ORLEANS, "Do-not-call list", "ops")
    ]
    assert rows[0]["refused at (UTC)"] == "2026-11-25 18:00:00"
    assert rows[0]["asked through"] == "REST API"
    assert "Single calls refused when asked for" in admin_client.get(url).content.decode()

    calls_only = django_user_model.objects.create_user(username="auditor", is_staff=True)
    calls_only.user_permissions.add(*Permission.objects.filter(
        codename__in=["view_campaign", "view_call", "view_contact"]
    ))  # fmt: skip
    client.force_login(calls_only)
    assert client.get(url, days).status_code == 200
    assert client.get(url, {**days, "log": "refused"}).status_code == 403


def test_the_compliance_log_asks_for_a_sensible_range_and_its_permissions(
    admin_client, client, django_user_model
):
    url = reverse("admin:campaigns_compliance_log")
    page = admin_client.get(url).content.decode()
    assert 'id="compliance-log-form"' in page and "Download CSV" in page
    backwards = admin_client.get(url, {"first_day": "2026-11-25", "last_day": "2026-11-01"})
    assert "The last day cannot come before the first." in backwards.content.decode()
    too_long = admin_client.get(url, {"first_day": "2025-01-01", "last_day": "2026-11-01"})
    assert "At most 366 days in one export." in too_long.content.decode()
    campaigns_page = admin_client.get(reverse("admin:campaigns_campaign_changelist"))
    assert 'id="compliance-log-link"' in campaigns_page.content.decode()

    clerk = django_user_model.objects.create_user(username="clerk", is_staff=True)
    clerk.user_permissions.add(  # calls and campaigns, not contacts
        *Permission.objects.filter(codename__in=["view_campaign", "view_call"])
    )
    client.force_login(clerk)
    assert client.get(url).status_code == 403  # the log names contacts


def test_a_calendar_closing_every_day_defers_contacts_daily_never_finishes_them(
    clock, make_campaign
):
    """A country-wide "no calls" rule (a pause) or a blackout "until further notice": contacts
    wait and are looked at again each day; nothing marks them invalid; and a blackout running
    to the end of time costs nothing."""
    CallingHoursRule.objects.create(country="US", weekdays=list(range(7)), no_calls=True,
                                    source="paused by the compliance team")  # fmt: skip
    BlackoutDate.objects.create(
        first_day=date(2026, 1, 1), last_day=date(9999, 12, 31), reason="until further notice"
    )
    campaign = make_campaign([SAN_FRANCISCO])
    campaign_start(campaign=campaign)
    now = clock.now()
    clock.move_to(now, tick=False)

    assert dispatch() == {campaign.pk: 0}

    entry = campaign.contacts.get()
    assert (entry.status, entry.held_by) == (CS.PENDING, Rule.BLACKOUT_DATE)
    assert entry.next_attempt_at == now + timedelta(days=1)
    assert entry.note == (
        f"{WINDOW_NOTE}; no opening within a year; looked at again "
        f"{now + timedelta(days=1):%Y-%m-%d %H:%M} UTC"
    )


def test_changing_the_calendar_looks_at_deferred_contacts_again(
    clock, make_campaign, django_capture_on_commit_callbacks
):
    clock.move_to(SUNDAY_MORNING, tick=False)
    campaign = make_campaign([NEW_ORLEANS])
    campaign_start(campaign=campaign)
    dispatch()
    entry = campaign.contacts.get()
    assert entry.next_attempt_at == MONDAY_8_IN_NEW_ORLEANS

    with django_capture_on_commit_callbacks(execute=True):
        CallingHoursRule.objects.filter(country="US", region="LA", no_calls=True).delete()

    entry.refresh_from_db()
    assert (entry.next_attempt_at, entry.note) == (SUNDAY_MORNING, "calling calendar changed")
    assert dispatch() == {campaign.pk: 1}  # Louisiana's Sundays are open now
