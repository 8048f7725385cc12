"""The staff's view of calls: changelist, read-only detail page, hang-up and retry."""

import re
import uuid
from datetime import timedelta
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from campaigns.models import DoNotCall
from telephony import tasks
from telephony.models import AgentProfile, Call, CallEvent, PhoneNumber
from telephony.services.calls import call_transition
from telephony.states import CallStatus
from tests.support.factories import CallFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:telephony_call_changelist")

# The way each status is reached from queued, one transition at a time.
PATHS = {
    CallStatus.QUEUED: [],
    CallStatus.DIALING: [CallStatus.DIALING],
    CallStatus.RINGING: [CallStatus.DIALING, CallStatus.RINGING],
    CallStatus.ANSWERED: [CallStatus.DIALING, CallStatus.RINGING, CallStatus.ANSWERED],
    CallStatus.COMPLETED: [
        CallStatus.DIALING,
        CallStatus.RINGING,
        CallStatus.ANSWERED,
        CallStatus.COMPLETED,
    ],
    CallStatus.NO_ANSWER: [CallStatus.DIALING, CallStatus.RINGING, CallStatus.NO_ANSWER],
    CallStatus.BUSY: [CallStatus.DIALING, CallStatus.BUSY],
    CallStatus.FAILED: [CallStatus.DIALING, CallStatus.FAILED],
    CallStatus.CANCELED: [CallStatus.CANCELED],
}


def make_call(
    caller: PhoneNumber,
    profile: AgentProfile,
    *,
    status: str = CallStatus.QUEUED,
    to_number: str = "+14155550123",
    placed: bool | None = None,
    **fields,
) -> Call:
    """A call row moved to `status` through the state machine (placed at Agora if past queued)."""
    call_id = uuid.uuid4()
    placed = status != CallStatus.QUEUED if placed is None else placed
    call = CallFactory(
        id=call_id,
        to_number=to_number,
        caller_id=caller,
        agent_profile=profile,
        agent_id=f"agent-{call_id.hex[:12]}" if placed else None,
        variables={"first_name": "Ada"},
        **fields,
    )
    CallEvent.objects.create(
        call=call,
        source=CallEvent.Source.API,
        kind=CallEvent.Kind.STATUS,
        to_status=CallStatus.QUEUED,
        detail="call queued",
    )
    with transaction.atomic():
        locked = Call.objects.select_for_update().get(pk=call.pk)
        for step in PATHS[status]:
            assert call_transition(
                locked, step, source=CallEvent.Source.WEBHOOK, detail=f"moved to {step}"
            )
    return Call.objects.get(pk=call.pk)


def change_url(call: Call) -> str:
    return reverse("admin:telephony_call_change", args=[call.pk])


def hangup_url(call: Call) -> str:
    return reverse("admin:telephony_call_hangup", args=[call.pk])


def shown(response) -> list[Call]:
    return list(response.context["cl"].result_list)


def page_messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def run_action(admin_client, action: str, calls: list[Call]):
    return admin_client.post(
        CHANGELIST,
        {"action": action, "_selected_action": [str(call.pk) for call in calls], "index": 0},
        follow=True,
    )


# -- changelist -------------------------------------------------------------------------------


def test_changelist_shows_a_badge_per_status_group_and_no_add_button(
    admin_client, caller_number, agent_profile
):
    for status in (
        CallStatus.QUEUED,
        CallStatus.RINGING,
        CallStatus.COMPLETED,
        CallStatus.BUSY,
        CallStatus.FAILED,
        CallStatus.CANCELED,
    ):
        make_call(caller_number, agent_profile, status=status)

    response = admin_client.get(CHANGELIST)

    assert response.status_code == 200
    html = response.content.decode()
    for group in ("queued", "live", "completed", "unreached", "failed", "canceled"):
        assert f"call-status call-status-{group}" in html
    assert "Reminder bot" in html  # the agent profile's name
    assert reverse("admin:telephony_call_add") not in html
    assert admin_client.get(reverse("admin:telephony_call_add")).status_code == 403
    assert "delete_selected" not in html


def test_changelist_filters_by_status_direction_and_caller_id(
    admin_client, caller_number, agent_profile
):
    other_number = PhoneNumber.objects.create(e164="+14155550199", label="Support")
    failed = make_call(caller_number, agent_profile, status=CallStatus.FAILED)
    answered = make_call(caller_number, agent_profile, status=CallStatus.ANSWERED)
    inbound = make_call(other_number, agent_profile, status=CallStatus.RINGING, direction="inbound")

    assert shown(admin_client.get(CHANGELIST, {"status__exact": "failed"})) == [failed]
    assert shown(admin_client.get(CHANGELIST, {"direction__exact": "inbound"})) == [inbound]
    by_number = admin_client.get(CHANGELIST, {"caller_id__id__exact": caller_number.pk})
    assert set(shown(by_number)) == {failed, answered}
    midnight = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    today = admin_client.get(CHANGELIST, {"created_at__gte": midnight.isoformat()})
    assert len(shown(today)) == 3


def test_changelist_search_finds_a_call_by_agent_id_and_number(
    admin_client, caller_number, agent_profile
):
    wanted = make_call(caller_number, agent_profile, status=CallStatus.ANSWERED)
    make_call(caller_number, agent_profile, status=CallStatus.ANSWERED, to_number="+14155550177")

    assert shown(admin_client.get(CHANGELIST, {"q": wanted.agent_id})) == [wanted]
    assert len(shown(admin_client.get(CHANGELIST, {"q": "+14155550177"}))) == 1
    assert shown(admin_client.get(CHANGELIST, {"q": wanted.channel})) == [wanted]


def test_a_whole_number_in_any_spelling_is_searched_by_its_index(
    admin_client, caller_number, agent_profile
):
    # given: one call to the number, one from it, one to a number sharing its first digits
    to_it = make_call(caller_number, agent_profile, status=CallStatus.ANSWERED,
                      to_number="+14155550177")  # fmt: skip
    make_call(caller_number, agent_profile, status=CallStatus.ANSWERED, to_number="+14155550178")

    # when: searched as staff type it
    with CaptureQueriesContext(connection) as queries:
        found = shown(admin_client.get(CHANGELIST, {"q": "(415) 555-0177"}))

    # then: exactly that call, found by equality (no substring scan of every call)
    assert found == [to_it]
    searched = [q["sql"] for q in queries.captured_queries if "to_number" in q["sql"]]
    assert searched and not any("LIKE" in sql for sql in searched)
    assert len(shown(admin_client.get(CHANGELIST, {"q": caller_number.e164}))) == 2  # from it


def test_changelist_query_count_does_not_grow_with_rows(admin_client, db):
    def add_calls(start: int, count: int) -> None:
        for index in range(start, start + count):
            number = PhoneNumber.objects.create(e164=f"+1415555{index:04d}", label=f"N{index}")
            profile = AgentProfile.objects.create(name=f"Agent {index}", pipeline_id="p")
            status = list(PATHS)[index % len(PATHS)]
            make_call(number, profile, status=status, duration_seconds=index)

    def queries_to_render() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as context:
            response = admin_client.get(CHANGELIST)
        assert response.status_code == 200
        return len(context.captured_queries), len(shown(response))

    add_calls(0, 3)
    admin_client.get(CHANGELIST)  # warm process-wide caches (content types)
    few, rows = queries_to_render()
    assert rows == 3
    add_calls(3, 37)
    many, rows = queries_to_render()
    assert rows == 40
    assert many == few


# -- detail page ------------------------------------------------------------------------------


def test_detail_page_shows_facts_timeline_transcript_and_metrics(
    admin_client, caller_number, agent_profile
):
    call = make_call(
        caller_number,
        agent_profile,
        status=CallStatus.COMPLETED,
        transcript=[
            {"role": "assistant", "content": "Hi Ada, this is Acme."},
            {"role": "user", "content": "<script>alert('x')</script> who is this?"},
        ],
        turn_metrics={"turns": 2, "avg_e2e_latency_ms": 812, "max_e2e_latency_ms": 1204},
        labels={"crm": "<b>42</b>"},
    )
    # an event recorded out of insertion order still appears in time order
    CallEvent.objects.create(
        call=call,
        source=CallEvent.Source.SYSTEM,
        kind=CallEvent.Kind.NOTE,
        detail="early note",
        created_at=call.created_at - timedelta(seconds=1),
    )

    response = admin_client.get(change_url(call))

    assert response.status_code == 200
    html = response.content.decode()
    # facts, read only: no inputs for the call's fields
    assert call.agora_name in html and call.agent_id in html
    assert 'name="to_number"' not in html and 'name="status"' not in html
    # timeline, ordered by time
    details = [event.detail for event in response.context["call_events"]]
    assert details == [
        "early note",
        "call queued",
        "moved to dialing",
        "moved to ringing",
        "moved to answered",
        "moved to completed",
    ]
    timeline = html[html.index('id="call-timeline"') : html.index('id="call-turn-metrics"')]
    positions = [timeline.index(detail) for detail in details]
    assert positions == sorted(positions)
    assert "ringing → answered" in timeline
    # transcript as bubbles, escaped
    assert 'call-bubble call-bubble-assistant"><span class="role">assistant</span>Hi Ada' in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; who is this?" in html
    assert "<script>alert(" not in html
    assert "<b>42</b>" not in html
    # turn metrics
    metrics = html[html.index('id="call-turn-metrics"') :]
    assert "812 ms" in metrics and "1204 ms" in metrics
    assert "<strong>2</strong>turns" in metrics
    # an ended call has no hang-up button
    assert 'id="call-hangup-form"' not in html


def test_detail_page_empty_states(admin_client, caller_number, agent_profile):
    call = make_call(caller_number, agent_profile, status=CallStatus.QUEUED)

    html = admin_client.get(change_url(call)).content.decode()

    assert "No transcript yet." in html
    assert "No turn metrics yet." in html
    assert 'id="call-hangup-form"' in html  # not ended: it can still be hung up


def test_staff_cannot_edit_a_call(admin_client, caller_number, agent_profile):
    call = make_call(caller_number, agent_profile, status=CallStatus.ANSWERED)

    response = admin_client.post(change_url(call), {"to_number": "+14155550111"})

    assert response.status_code == 403
    call.refresh_from_db()
    assert call.to_number == "+14155550123"


# -- hanging up -------------------------------------------------------------------------------


def test_hang_up_action_reports_counts_and_only_touches_live_calls(
    admin_client, caller_number, agent_profile, django_capture_on_commit_callbacks
):
    dialing = make_call(caller_number, agent_profile, status=CallStatus.DIALING)
    answered = make_call(caller_number, agent_profile, status=CallStatus.ANSWERED)
    queued = make_call(caller_number, agent_profile, status=CallStatus.QUEUED)
    completed = make_call(caller_number, agent_profile, status=CallStatus.COMPLETED)
    failed = make_call(caller_number, agent_profile, status=CallStatus.FAILED)

    with (
        mock.patch.object(tasks.hangup_call, "delay") as hangup_delay,
        mock.patch.object(tasks.fetch_call_agent_data, "apply_async"),
    ):
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            response = run_action(
                admin_client, "hang_up_selected", [dialing, answered, queued, completed, failed]
            )
            assert hangup_delay.call_count == 0  # nothing before the commit
            # what was queued for after the commit: a hang-up at Agora for each placed live call
        for callback in callbacks:
            callback()

    assert response.status_code == 200
    [message] = page_messages(response)
    assert "Hanging up: 2 calls" in message
    assert "Canceled before dialing: 1 call" in message
    assert "Already ended: 2 calls" in message
    for call in (dialing, answered):
        call.refresh_from_db()
        assert call.hangup_requested_at is not None
        assert call.status not in (CallStatus.CANCELED, CallStatus.COMPLETED)
    for call in (completed, failed):
        call.refresh_from_db()
        assert call.hangup_requested_at is None
    queued.refresh_from_db()
    assert queued.status == CallStatus.CANCELED
    assert sorted(c.args[0] for c in hangup_delay.call_args_list) == sorted(
        [str(dialing.pk), str(answered.pk)]
    )


def test_hang_up_button_on_a_live_call(admin_client, caller_number, agent_profile):
    call = make_call(caller_number, agent_profile, status=CallStatus.ANSWERED)
    assert 'id="call-hangup-form"' in admin_client.get(change_url(call)).content.decode()

    response = admin_client.post(hangup_url(call), follow=True)

    assert response.redirect_chain == [(change_url(call), 302)]
    assert page_messages(response) == ["Call to +14155550123: hanging up."]
    call.refresh_from_db()
    assert call.hangup_requested_at is not None
    assert call.events.filter(source=CallEvent.Source.STAFF, detail="hang-up requested").exists()


def test_hang_up_button_on_an_ended_call_changes_nothing(
    admin_client, caller_number, agent_profile
):
    call = make_call(caller_number, agent_profile, status=CallStatus.COMPLETED)

    response = admin_client.post(hangup_url(call), follow=True)

    assert page_messages(response) == ["Call to +14155550123: already ended."]
    call.refresh_from_db()
    assert call.hangup_requested_at is None


def test_hang_up_url_refuses_get(admin_client, caller_number, agent_profile):
    call = make_call(caller_number, agent_profile, status=CallStatus.ANSWERED)

    assert admin_client.get(hangup_url(call)).status_code == 405
    call.refresh_from_db()
    assert call.hangup_requested_at is None


def test_hang_up_url_needs_staff_permission_and_csrf(admin_user, caller_number, agent_profile):
    call = make_call(caller_number, agent_profile, status=CallStatus.ANSWERED)
    users = get_user_model().objects
    outsider = users.create_user("outsider", password="x", is_staff=False)
    viewer = users.create_user("viewer", password="x", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_call"))

    client = Client()
    client.force_login(outsider)
    response = client.post(hangup_url(call))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))

    client.force_login(viewer)
    assert client.get(change_url(call)).status_code == 200
    assert 'id="call-hangup-form"' not in client.get(change_url(call)).content.decode()
    assert client.post(hangup_url(call)).status_code == 403

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(admin_user)
    assert strict.post(hangup_url(call)).status_code == 403  # no CSRF token

    call.refresh_from_db()
    assert call.hangup_requested_at is None


def test_hang_up_unknown_call_redirects_with_a_message(admin_client):
    response = admin_client.post(
        reverse("admin:telephony_call_hangup", args=[uuid.uuid4()]), follow=True
    )

    assert response.status_code == 200
    assert any("doesn\u2019t exist" in message for message in page_messages(response))


# -- retrying ---------------------------------------------------------------------------------


def test_retry_action_queues_a_new_call_for_a_failed_one_and_reports_live_ones(
    admin_client, caller_number, agent_profile, django_capture_on_commit_callbacks
):
    failed = make_call(caller_number, agent_profile, status=CallStatus.FAILED)
    live = make_call(caller_number, agent_profile, status=CallStatus.ANSWERED)

    with mock.patch.object(tasks.place_call, "delay") as place_delay:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            response = run_action(admin_client, "retry_selected", [failed, live])
            assert (
                place_delay.call_count == 0
            )  # the retry's placement is queued for after the commit
        for callback in callbacks:
            callback()

    assert response.status_code == 200
    retry = Call.objects.get(labels__retry_of=str(failed.pk))
    assert retry.status == CallStatus.QUEUED
    assert (retry.to_number, retry.caller_id, retry.agent_profile) == (
        failed.to_number,
        caller_number,
        agent_profile,
    )
    assert retry.variables == failed.variables
    assert retry.events.get().source == CallEvent.Source.STAFF
    assert not Call.objects.filter(labels__retry_of=str(live.pk)).exists()
    messages = page_messages(response)
    assert any(f"({live.pk}) was not retried: Only a call that failed" in m for m in messages)
    assert any("Queued 1 retry as new calls" in m for m in messages)
    place_delay.assert_called_once_with(str(retry.pk))


def test_a_call_that_never_talked_shows_a_dash_for_what_is_not_known(
    admin_client, caller_number, agent_profile
):
    call = make_call(caller_number, agent_profile, status=CallStatus.FAILED)

    html = admin_client.get(change_url(call)).content.decode()

    duration = re.search(r'field-duration">.*?<div class="readonly">(.*?)</div>', html, re.S)
    assert duration and duration.group(1) == "—"
    assert ">None<" not in html


# -- "Test call" on an agent's and a number's page ---------------------------------------------


def test_test_call_from_an_agents_page_goes_through_every_check_and_opens_the_call(
    admin_client, caller_number, agent_profile
):
    page = admin_client.get(
        reverse("admin:telephony_agentprofile_change", args=[agent_profile.pk])
    ).content.decode()
    url = f"{reverse('admin:telephony_call_place')}?agent_profile={agent_profile.pk}"
    assert f'href="{url}" class="test-call-link"' in page

    form = admin_client.get(url)
    assert form.context["title"] == "Test call"
    assert form.context["form"].initial == {"agent_profile": str(agent_profile.pk)}

    def body(to_number: str) -> dict:
        variables = '{"first_name": "Ada"}'
        return {"to_number": to_number, "caller_id": caller_number.pk,
                "agent_profile": agent_profile.pk, "variables": variables}  # fmt: skip

    DoNotCall.objects.create(phone="+14155550177")
    refused = admin_client.post(url, body("+14155550177"))
    assert refused.status_code == 200 and "do-not-call" in refused.content.decode()
    assert not Call.objects.exists()

    placed = admin_client.post(url, body("+14155550178"))
    call = Call.objects.get()
    assert placed["Location"] == change_url(call)


def test_test_call_from_a_numbers_page_and_who_sees_it(
    admin_client, client, django_user_model, caller_number
):
    page = admin_client.get(
        reverse("admin:telephony_phonenumber_change", args=[caller_number.pk])
    ).content.decode()
    assert f"?caller_id={caller_number.pk}" in page and 'id="test-call"' in page

    viewer = django_user_model.objects.create_user("viewer", password=None, is_staff=True)
    viewer.user_permissions.set(Permission.objects.filter(codename="view_phonenumber"))
    client.force_login(viewer)
    page = client.get(reverse("admin:telephony_phonenumber_change", args=[caller_number.pk]))
    assert 'id="test-call"' not in page.content.decode()  # may not place calls

    PhoneNumber.objects.filter(pk=caller_number.pk).update(outbound=False)
    page = admin_client.get(reverse("admin:telephony_phonenumber_change", args=[caller_number.pk]))
    assert 'id="test-call"' not in page.content.decode()  # cannot call out
