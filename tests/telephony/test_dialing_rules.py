"""Every single call answers to the dialing rules (do-not-call, calling hours, destinations),
through every entry point (API, admin, command, retry), when it is queued and again right before
each request that dials it; staff holding the override permission may pass the overridable ones,
with a reason that is recorded."""

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command
from django.urls import reverse
from rest_framework.test import APIClient

from campaigns.models import DoNotCall
from contactcenter.models import ApiKey, ApiScope
from telephony.models import Call, CallEvent, PhoneNumber, RefusedCall
from telephony.rules import CallRefused, CallTarget, Rule, RulesOverride
from telephony.services.calls import PlacementDeferred, call_create, call_place, call_retry
from telephony.states import CallStatus

pytestmark = pytest.mark.django_db

# 10:34 UTC on a Thursday: 02:34 in San Francisco, 05:34 in New York, 19:34 in Tokyo. (Later
# than the suite's pinned clock: an in-process simulator's clock never goes back.)
NIGHT_IN_AMERICA = datetime(2026, 11, 26, 10, 34, tzinfo=UTC)
CALLEE = "+14155550150"


def queue(imported_caller, agent_profile, to_number=CALLEE, **options) -> Call:
    return call_create(
        to_number=to_number,
        caller_id=imported_caller,
        agent_profile=agent_profile,
        variables={"first_name": "Ada"},
        **options,
    )


def place_requests(simulator) -> int:
    return simulator.ledger_summary()["requests"]["by_operation"].get("place_call", 0)


@pytest.fixture
def api(db) -> APIClient:
    _, key = ApiKey.issue(name="CRM", scopes=[ApiScope.CALLS_READ, ApiScope.CALLS_WRITE])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


def api_call(api, imported_caller, agent_profile, to_number=CALLEE, **extra):
    body = {
        "to_number": to_number,
        "caller_id": imported_caller.e164,
        "agent": agent_profile.name,
        "variables": {"first_name": "Ada"},
        **extra,
    }
    return api.post("/api/v1/calls/", body, format="json")


# -- when a call is queued --------------------------------------------------------------------


def test_a_number_on_the_do_not_call_list_is_refused_everywhere(
    api, admin_client, imported_caller, agent_profile
):
    DoNotCall.objects.create(phone=CALLEE, reason="asked")

    with pytest.raises(CallRefused) as refused:
        queue(imported_caller, agent_profile)
    assert refused.value.refusal.rule == Rule.DO_NOT_CALL

    answer = api_call(api, imported_caller, agent_profile)
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "do_not_call"
    assert "+14155550150 is on the do-not-call list" in answer.json()["error"]["message"]

    page = admin_client.post(reverse("admin:telephony_call_place"), {
        "to_number": CALLEE, "caller_id": imported_caller.pk,
        "agent_profile": agent_profile.pk, "variables": '{"first_name": "Ada"}',
    })  # fmt: skip
    assert page.status_code == 200
    assert "is on the do-not-call list" in page.context["form"].errors["to_number"][0]

    with pytest.raises(CommandError, match="on the do-not-call list"):
        call_command(
            "place_call", "--to", CALLEE, "--from", imported_caller.e164,
            "--agent", agent_profile.name, "--var", "first_name=Ada", stdout=StringIO(),
        )  # fmt: skip
    assert not Call.objects.exists()


def test_a_call_at_night_in_the_callees_zone_is_refused(api, clock, imported_caller, agent_profile):
    clock.move_to(NIGHT_IN_AMERICA, tick=False)

    answer = api_call(api, imported_caller, agent_profile)

    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "calling_hours"
    assert "It is Thu 02:34 in America/Los_Angeles for +14155550150" in error["message"]
    assert "08:00-21:00 local time" in error["message"]
    assert "next allowed at 2026-11-26 16:00 UTC" in error["message"]
    assert not Call.objects.exists()


def test_the_callees_own_zone_replaces_the_numbers(api, clock, imported_caller, agent_profile):
    clock.move_to(NIGHT_IN_AMERICA, tick=False)

    answer = api_call(api, imported_caller, agent_profile, callee_timezone="Asia/Tokyo")

    assert answer.status_code == 201, answer.content
    assert Call.objects.get().callee_timezone == "Asia/Tokyo"
    bad = api_call(api, imported_caller, agent_profile, callee_timezone="Mars/Olympus")
    assert bad.status_code == 400
    assert "is not an IANA time zone" in bad.json()["error"]["fields"]["callee_timezone"][0]


def test_every_zone_of_a_number_must_be_inside_the_hours(clock, imported_caller, agent_profile):
    # 16:30 UTC: 08:30 in San Francisco but 06:30 in Honolulu, both zones of a US toll-free
    # number.
    clock.move_to(datetime(2026, 11, 25, 16, 30, tzinfo=UTC), tick=False)
    queue(imported_caller, agent_profile, to_number="+14155550151")  # one zone: allowed

    with pytest.raises(CallRefused) as refused:
        queue(imported_caller, agent_profile, to_number="+18005550150")
    assert refused.value.refusal.rule == Rule.CALLING_HOURS
    assert "Pacific/Honolulu" in refused.value.refusal.message or "more zones" in str(
        refused.value.refusal.message
    )


@pytest.mark.parametrize(
    ("to_number", "what"),
    [
        ("+19005550150", "premium-rate"),  # US, an allowed country
        ("+18765550150", "is in JM"),  # Jamaica shares +1 but is another country
        ("+33612345678", "is in FR"),
    ],
)
def test_destinations_outside_the_policy_are_refused(
    api, imported_caller, agent_profile, to_number, what
):
    answer = api_call(api, imported_caller, agent_profile, to_number=to_number)

    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "destination"
    assert what in answer.json()["error"]["message"]
    assert not Call.objects.exists()


def test_allowed_countries_default_to_the_callers_and_the_setting_replaces_them(
    settings, clock, imported_caller, agent_profile
):
    clock.move_to(datetime(2026, 11, 25, 12, 0, tzinfo=UTC), tick=False)  # 13:00 in Paris
    with pytest.raises(CallRefused):
        queue(imported_caller, agent_profile, to_number="+33612345678")
    PhoneNumber.objects.create(e164="+33187654321", label="Paris", outbound=True)
    assert queue(imported_caller, agent_profile, to_number="+33612345678").to_number

    settings.CALL_ALLOWED_COUNTRIES = ["US"]
    with pytest.raises(CallRefused) as refused:
        queue(imported_caller, agent_profile, to_number="+33612345679")
    assert "allowed: US" in refused.value.refusal.message


@pytest.mark.parametrize(
    "to_number",
    ["+448712345678", "+447012345678"],  # UK premium rate, UK personal (forwarding) number
)
def test_toll_number_types_are_refused_even_in_allowed_countries(
    settings, imported_caller, agent_profile, to_number
):
    settings.CALL_ALLOWED_COUNTRIES = ["US", "GB"]
    with pytest.raises(CallRefused) as refused:
        queue(imported_caller, agent_profile, to_number=to_number)
    assert refused.value.refusal.rule == Rule.DESTINATION
    assert "toll-fraud" in refused.value.refusal.message


def test_a_retry_answers_to_the_rules_too(imported_caller, agent_profile, admin_client):
    first = queue(imported_caller, agent_profile)
    Call.objects.filter(pk=first.pk).update(status=CallStatus.FAILED)
    DoNotCall.objects.create(phone=CALLEE)

    with pytest.raises(CallRefused):
        call_retry(call_id=first.pk)
    page = admin_client.post(
        reverse("admin:telephony_call_changelist"),
        {"action": "retry_selected", "_selected_action": [first.pk]},
        follow=True,
    )
    assert "is on the do-not-call list" in page.content.decode()
    assert Call.objects.count() == 1


# -- the log of refused single calls ----------------------------------------------------------


def test_every_refused_single_call_is_logged_with_the_rule_and_who_asked(
    api, admin_client, admin_user, clock, imported_caller, agent_profile
):
    """Nothing else is stored for a refused call: the log is written after the refused
    transaction rolled back, whichever way the call was asked for."""
    first = queue(imported_caller, agent_profile)
    Call.objects.filter(pk=first.pk).update(status=CallStatus.FAILED)
    DoNotCall.objects.create(phone=CALLEE, reason="asked")

    with pytest.raises(CallRefused):
        queue(imported_caller, agent_profile, to_number="(415) 555-0150", source="system")
    assert api_call(api, imported_caller, agent_profile).status_code == 422
    admin_client.post(reverse("admin:telephony_call_place"), {
        "to_number": CALLEE, "caller_id": imported_caller.pk,
        "agent_profile": agent_profile.pk, "variables": '{"first_name": "Ada"}',
    })  # fmt: skip
    with pytest.raises(CommandError):
        call_command(
            "place_call", "--to", CALLEE, "--from", imported_caller.e164,
            "--agent", agent_profile.name, "--var", "first_name=Ada", stdout=StringIO(),
        )  # fmt: skip
    admin_client.post(
        reverse("admin:telephony_call_changelist"),
        {"action": "retry_selected", "_selected_action": [first.pk]},
    )
    # A bad number is a validation error, not a refusal: nothing to log.
    assert api_call(api, imported_caller, agent_profile, to_number="12").status_code == 400

    logged = list(RefusedCall.objects.order_by("id"))
    assert [(entry.source, entry.requested_by) for entry in logged] == [
        ("system", ""),
        ("api", "API key CRM"),
        ("staff", admin_user.get_username()),
        ("staff", "place_call command"),
        ("staff", admin_user.get_username()),
    ]
    for entry in logged:
        assert (entry.to_number, entry.rule) == (CALLEE, Rule.DO_NOT_CALL)  # in E.164
        assert "+14155550150 is on the do-not-call list" in entry.message
        assert (entry.caller_id, entry.agent_profile) == (imported_caller.e164, agent_profile.name)
        assert timedelta(0) <= clock.now() - entry.refused_at < timedelta(minutes=1)
    assert Call.objects.count() == 1

    page = admin_client.get(
        reverse("admin:telephony_refusedcall_changelist"), {"rule": "do_not_call"}
    )
    assert page.status_code == 200
    assert page.content.decode().count("Do-not-call list") >= 5
    entry_page = admin_client.get(
        reverse("admin:telephony_refusedcall_change", args=[logged[0].pk])
    )
    assert entry_page.status_code == 200
    assert 'name="_save"' not in entry_page.content.decode()  # read-only
    assert "refused: Do-not-call list" in entry_page.content.decode()  # the rule's name
    assert (
        admin_client.post(
            reverse("admin:telephony_refusedcall_delete", args=[logged[0].pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    assert RefusedCall.objects.count() == 5


def test_a_refusal_for_later_keeps_when_it_was_asked_for_and_when_it_would_be_allowed(
    clock, imported_caller, agent_profile
):
    clock.move_to(NIGHT_IN_AMERICA, tick=False)
    wanted = NIGHT_IN_AMERICA + timedelta(hours=2)  # 04:34 in San Francisco

    with pytest.raises(CallRefused):
        queue(imported_caller, agent_profile, scheduled_for=wanted, callee_region="US-CA")

    entry = RefusedCall.objects.get()
    assert (entry.rule, entry.scheduled_for, entry.callee_region) == (
        Rule.CALLING_HOURS, wanted, "US-CA",
    )  # fmt: skip
    assert entry.allowed_at == datetime(2026, 11, 26, 16, 0, tzinfo=UTC)
    assert entry.refused_at == NIGHT_IN_AMERICA


# -- the override ----------------------------------------------------------------------------


@pytest.fixture
def supervisor(django_user_model):
    user = django_user_model.objects.create_user(
        username="supervisor", password="not-used", is_staff=True
    )
    user.user_permissions.add(
        Permission.objects.get(codename="add_call"),
        Permission.objects.get(codename="view_call"),
        Permission.objects.get(codename="override_dialing_rules"),
    )
    return django_user_model.objects.get(pk=user.pk)  # fresh permission cache


def test_staff_with_the_permission_override_with_a_reason_and_it_is_recorded(
    client, clock, supervisor, imported_caller, agent_profile, agora, simulator
):
    DoNotCall.objects.create(phone=CALLEE)
    clock.move_to(NIGHT_IN_AMERICA, tick=False)
    client.force_login(supervisor)
    form = {"to_number": CALLEE, "caller_id": imported_caller.pk,
            "agent_profile": agent_profile.pk, "variables": '{"first_name": "Ada"}'}  # fmt: skip

    without_reason = client.post(
        reverse("admin:telephony_call_place"), {**form, "override_rules": "on"}
    )
    assert "Say why the rules are overridden." in without_reason.content.decode()
    placed = client.post(
        reverse("admin:telephony_call_place"),
        {**form, "override_rules": "on", "override_reason": "fraud alert on the account"},
    )

    call = Call.objects.get()
    assert placed.status_code == 302
    assert (call.rules_overridden_by, call.rules_override_reason) == (
        supervisor,
        "fraud alert on the account",
    )
    audit = call.events.get(kind=CallEvent.Kind.NOTE)
    assert audit.detail == ("dialing rules overridden by supervisor: fraud alert on the account")
    assert audit.payload["user_id"] == supervisor.pk
    assert "on the do-not-call list" in audit.payload["would_have_refused"]
    # The last look before dialing honours the override as well.
    assert call_place(call_id=call.pk) == "placed"
    assert place_requests(simulator) == 1


def test_without_the_permission_there_is_no_override(
    client, django_user_model, imported_caller, agent_profile
):
    clerk = django_user_model.objects.create_user(username="clerk", is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="add_call"))
    clerk = django_user_model.objects.get(pk=clerk.pk)
    DoNotCall.objects.create(phone=CALLEE)
    client.force_login(clerk)

    page = client.get(reverse("admin:telephony_call_place"))
    assert "override_rules" not in page.context["form"].fields
    posted = client.post(reverse("admin:telephony_call_place"), {
        "to_number": CALLEE, "caller_id": imported_caller.pk, "agent_profile": agent_profile.pk,
        "variables": '{"first_name": "Ada"}', "override_rules": "on", "override_reason": "x",
    })  # fmt: skip
    assert "is on the do-not-call list" in posted.context["form"].errors["to_number"][0]
    with pytest.raises(PermissionDenied):
        queue(imported_caller, agent_profile, override=RulesOverride(user=clerk, reason="x"))
    assert not Call.objects.exists()


def test_the_api_has_no_override(api, imported_caller, agent_profile):
    DoNotCall.objects.create(phone=CALLEE)
    answer = api_call(
        api, imported_caller, agent_profile, override_rules=True, override_reason="please"
    )
    assert answer.status_code == 422
    assert not Call.objects.exists()


def test_destinations_are_never_overridden(supervisor, imported_caller, agent_profile):
    with pytest.raises(CallRefused) as refused:
        queue(
            imported_caller,
            agent_profile,
            to_number="+19005550150",
            override=RulesOverride(user=supervisor, reason="emergency"),
        )
    assert refused.value.refusal.rule == Rule.DESTINATION


def test_the_place_call_page_is_for_staff_who_may_add_calls(client, django_user_model):
    viewer = django_user_model.objects.create_user(username="viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_call"))
    client.force_login(viewer)
    assert client.get(reverse("admin:telephony_call_place")).status_code == 403
    assert (
        "Place a call"
        not in client.get(reverse("admin:telephony_call_changelist")).content.decode()
    )


# -- right before each request that dials ------------------------------------------------------


def test_a_number_put_on_do_not_call_while_queued_is_never_dialed(
    agora, simulator, imported_caller, agent_profile
):
    call = queue(imported_caller, agent_profile)
    DoNotCall.objects.create(phone=CALLEE, reason="asked by text message")

    assert call_place(call_id=call.pk) == "refused"

    call.refresh_from_db()
    assert call.status == CallStatus.CANCELED
    assert call.refused_by_rule == Rule.DO_NOT_CALL
    assert call.end_reason == "not dialed: +14155550150 is on the do-not-call list."
    assert place_requests(simulator) == 0


def test_the_hours_are_checked_again_when_a_deferred_placement_is_retried(
    agora, simulator, clock, imported_caller, agent_profile
):
    # 20:59 in San Francisco: allowed; Agora answers 503, so the placement is deferred.
    clock.move_to(datetime(2026, 11, 26, 4, 59, tzinfo=UTC), tick=False)
    call = queue(imported_caller, agent_profile)
    simulator.inject_fault("error", operation="place_call", times=1, status=503)
    with pytest.raises(PlacementDeferred):
        call_place(call_id=call.pk)

    clock.advance(minutes=2)  # the retry comes at 21:01: the hours have closed
    assert call_place(call_id=call.pk) == "refused"

    call.refresh_from_db()
    assert (call.status, call.refused_by_rule) == (CallStatus.CANCELED, Rule.CALLING_HOURS)
    assert "outside the calling hours" in call.end_reason
    assert place_requests(simulator) == 1  # the 503 only: each request had its own look


def test_a_worker_paused_past_its_lease_sends_no_second_request(
    agora, simulator, clock, settings, imported_caller, agent_profile, monkeypatch
):
    """Worker A records its intent, then stalls (a GC pause, a stopped VM) past its lease;
    worker B takes the placement over and places the call. A must not send its request."""
    from telephony.services import calls

    call = queue(imported_caller, agent_profile)
    last_look = calls._last_look
    outcomes = []

    def stalled_before_sending(attempts):
        if not outcomes:  # worker A: its intent is committed; it stalls here
            outcomes.append("A stalled")
            clock.advance(settings.CALL_PLACEMENT_LEASE_SECONDS + 1)
            outcomes.append(call_place(call_id=call.pk))  # worker B
        return last_look(attempts)

    monkeypatch.setattr(calls, "_last_look", stalled_before_sending)
    outcomes.append(call_place(call_id=call.pk))  # worker A resumes

    assert outcomes == ["A stalled", "placed", "superseded"]
    assert place_requests(simulator) == 1
    call.refresh_from_db()
    assert call.agent_id and call.placement_attempts == 2


def test_facts_read_for_other_numbers_are_not_taken_for_a_batchs_own(imported_caller):
    """A caller may hand the rules what it read already (the dispatcher, for its claim): only
    if that covers every number checked; else the rules read for themselves."""
    from campaigns.services.dialing_rules import RuleFacts
    from telephony.rules import dialing_rules

    DoNotCall.objects.create(phone=CALLEE)
    now = datetime(2026, 11, 26, 18, 0, tzinfo=UTC)  # 10:00 in San Francisco
    elsewhere = RuleFacts.for_numbers(["+14155550999"], now=now)
    covering = RuleFacts.for_numbers([CALLEE, "+14155550999"], now=now)
    DoNotCall.objects.filter(phone=CALLEE).delete()  # after it was read: the facts still say so

    [other] = dialing_rules().new_call_refusals(
        calls=[CallTarget(CALLEE)], now=now, facts=elsewhere
    )
    [given] = dialing_rules().new_call_refusals(calls=[CallTarget(CALLEE)], now=now, facts=covering)

    assert other is None  # read again: no longer listed
    assert given is not None and given.rule == Rule.DO_NOT_CALL  # the facts handed in, used
