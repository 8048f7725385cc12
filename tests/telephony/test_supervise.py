"""A supervisor on a live answered call: the agent speaks a sentence, follows an instruction
(Agora's think) or stops speaking; from the call's admin page (permission `control_call`) and
the API (scope `calls:control`), through one service, against the simulator."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from telephony.models import Call, CallEvent
from telephony.services.calls import call_supervise, calls_poll
from telephony.states import CallStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def answered(place, simulator, agora) -> Call:
    call = place("+14155550004")  # answers, and talks until hung up
    simulator.advance(10)
    calls_poll(now=timezone.now() + timedelta(hours=1))
    call.refresh_from_db()
    assert call.status == CallStatus.ANSWERED
    return call


def test_speak_think_and_interrupt_reach_the_agent_and_are_recorded(answered, agora):
    assert call_supervise(call_id=answered.pk, action="speak", who="ada",
                          text="One moment please.", priority="APPEND") == "spoken"  # fmt: skip
    assert call_supervise(call_id=answered.pk, action="think", who="ada",
                          text="Offer the Friday slot.") == "instructed"  # fmt: skip
    assert call_supervise(call_id=answered.pk, action="interrupt", who="ada") == "interrupted"

    history = agora.get_agent_history(answered.agent_id)
    assert history.contents[-1].content == "Offer the Friday slot."
    notes = list(answered.events.filter(kind=CallEvent.Kind.NOTE).values_list("detail", flat=True))
    assert notes[-3:] == ["ada: speak 'One moment please.'", "ada: think 'Offer the Friday slot.'",
                          "ada: interrupt"]  # fmt: skip


def test_only_a_live_answered_call_with_something_to_say_is_supervised(place, answered, agora):
    queued = place("+14155550150")
    Call.objects.filter(pk=queued.pk).update(status=CallStatus.RINGING)
    with pytest.raises(ValidationError, match="this call is ringing"):
        call_supervise(call_id=queued.pk, action="speak", who="ada", text="Hi")
    with pytest.raises(ValidationError, match="Say what the agent should say"):
        call_supervise(call_id=answered.pk, action="think", who="ada", text=" ")
    with pytest.raises(ValidationError, match="Unknown action"):
        call_supervise(call_id=answered.pk, action="whisper", who="ada", text="x")
    with pytest.raises(ValidationError, match="512 bytes"):
        call_supervise(call_id=answered.pk, action="speak", who="ada", text="x" * 600)


def test_agoras_refusal_is_said_and_kept_on_the_call(answered, agora):
    agora.leave_agent(answered.agent_id)  # the agent is gone; our record does not know yet

    with pytest.raises(ValidationError, match="Agora refused the speak"):
        call_supervise(call_id=answered.pk, action="speak", who="ada", text="Hello?")
    assert answered.events.filter(kind=CallEvent.Kind.ERROR, detail__startswith="ada: speak failed")


def test_the_call_page_offers_the_controls_only_to_supervisors(
    answered, admin_client, client, django_user_model
):
    url = reverse("admin:telephony_call_change", args=[answered.pk])
    supervise = reverse("admin:telephony_call_supervise", args=[answered.pk])
    assert 'id="call-supervise"' in admin_client.get(url).content.decode()

    form = {"action": "speak", "text": "Still there?", "interruptable": "on"}
    response = admin_client.post(supervise, form)
    assert response["Location"] == url
    assert answered.events.filter(detail="admin: speak 'Still there?'").exists()

    viewer = django_user_model.objects.create_user("viewer", password=None, is_staff=True)
    viewer.user_permissions.set(
        Permission.objects.filter(codename__in=["view_call", "change_call"])
    )
    client.force_login(viewer)
    assert 'id="call-supervise"' not in client.get(url).content.decode()
    assert client.post(supervise, {"action": "interrupt"}).status_code == 403


def test_the_api_needs_the_control_scope(answered, key_client):
    url = f"/api/v1/calls/{answered.pk}/control/"

    refused = key_client(["calls:read", "calls:write"]).post(url, {"action": "interrupt"},
                                                             format="json")  # fmt: skip
    assert refused.status_code == 403

    controller = key_client(["calls:control"])
    done = controller.post(url, {"action": "think", "text": "Confirm the address."}, format="json")
    assert done.status_code == 200, done.content
    assert done.json()["result"] == "instructed"
    bad = controller.post(url, {"action": "shout", "text": "x"}, format="json")
    assert bad.status_code == 400 and "action" in bad.json()["error"]["fields"]


# -- following the live call ---------------------------------------------------------------------


def test_the_call_page_follows_the_conversation_from_one_shared_snapshot(
    answered, admin_client, simulator, settings
):
    settings.CALL_LIVE_SNAPSHOT_SECONDS = 60
    cache.clear()
    live = reverse("admin:telephony_call_live", args=[answered.pk])
    page = admin_client.get(reverse("admin:telephony_call_change", args=[answered.pk]))
    assert f'data-live-url="{live}"' in page.content.decode()

    asked_before = simulator.ledger.request_counts["get_agent_history"]
    first = admin_client.get(live).json()
    for _ in range(5):  # many open pages, or one page refreshing: Agora is asked once
        assert admin_client.get(live).json() == first
    assert simulator.ledger.request_counts["get_agent_history"] == asked_before + 1
    assert (first["status"], first["live"]) == ("answered", True)
    assert first["transcript"][0]["side"] == "assistant"

    hang_up_and_settle(answered, simulator)
    ended = admin_client.get(live).json()
    assert (ended["status"], ended["live"]) == ("completed", False)
    page = admin_client.get(reverse("admin:telephony_call_change", args=[answered.pk]))
    assert "data-live-url" not in page.content.decode()  # an ended call is not followed


def hang_up_and_settle(call, simulator):
    from telephony.services.calls import call_hangup_remote

    call_hangup_remote(call_id=call.pk)
    call.refresh_from_db()
    assert call.is_terminal


def test_the_live_view_is_for_staff_who_may_see_calls(answered, client):
    live = reverse("admin:telephony_call_live", args=[answered.pk])
    assert client.get(live).status_code == 302  # to the login page
