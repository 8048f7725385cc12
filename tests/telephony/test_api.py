"""REST API for phone numbers, agents and calls (telephony/api/)."""

import uuid
from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from campaigns.models import Campaign, CampaignAttempt, CampaignContact
from contactcenter.models import ApiKey, ApiScope
from telephony import tasks
from telephony.models import AgentProfile, Call, CallEvent, PhoneNumber
from telephony.states import CallStatus
from tests.support.factories import CallFactory, CampaignFactory, ContactFactory

pytestmark = pytest.mark.django_db

SIP_PASSWORD = "s3cret-sip-Passw0rd"


def make_call(*, to_number="+14155550111", caller=None, agent=None, **fields) -> Call:
    return CallFactory(to_number=to_number, caller_id=caller, agent_profile=agent, **fields)


def make_campaign(agent: AgentProfile, name: str = "Reminders") -> Campaign:
    return CampaignFactory(name=name, agent_profile=agent)


def attach_to_campaign(call: Call, campaign: Campaign) -> None:
    contact = ContactFactory(phone=call.to_number)
    entry = CampaignContact.objects.create(campaign=campaign, contact=contact)
    CampaignAttempt.objects.create(campaign_contact=entry, campaign=campaign, call=call, number=1)


def assert_error(response, status_code: int, *fields: str) -> dict:
    assert response.status_code == status_code, response.content
    error = response.json()["error"]
    assert set(error) >= {"code", "message", "fields"}
    for field in fields:
        assert error["fields"].get(field), error
    return error


# -- authentication ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/phone-numbers/", "/api/v1/agents/", "/api/v1/calls/"])
def test_anonymous_requests_are_refused(anonymous_client, path):
    response = anonymous_client.get(path)

    assert_error(response, 401)


def test_a_revoked_key_is_refused(api_client, api_key_record):
    api_key_record[0].revoke()

    response = api_client.get("/api/v1/phone-numbers/")

    error = assert_error(response, 401)
    assert "revoked" in error["message"]


def test_a_staff_session_works(staff_client, caller_number):
    response = staff_client.get("/api/v1/phone-numbers/")

    assert response.status_code == 200
    assert [row["e164"] for row in response.json()["results"]] == ["+14155550100"]


def test_a_signed_in_user_who_is_not_staff_is_refused(django_user_model):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_login(django_user_model.objects.create_user(username="u", password="x"))

    assert_error(client.get("/api/v1/calls/"), 403)


# -- phone numbers ----------------------------------------------------------------------------


def test_phone_numbers_list_and_retrieve(api_client, caller_number):
    caller_number.outbound_user = "trunk"
    caller_number.outbound_password = SIP_PASSWORD
    caller_number.save()

    listed = api_client.get("/api/v1/phone-numbers/")
    detail = api_client.get(f"/api/v1/phone-numbers/{caller_number.pk}/")

    assert listed.status_code == 200
    assert detail.status_code == 200
    assert listed.json()["results"] == [detail.json()]
    assert detail.json()["e164"] == "+14155550100"
    assert detail.json()["has_outbound_password"] is True
    for response in (listed, detail):
        assert SIP_PASSWORD not in response.content.decode()
        assert "outbound_password" not in response.content.decode().replace("has_outbound", "")


def test_phone_number_unknown_id_is_404(api_client):
    assert_error(api_client.get("/api/v1/phone-numbers/999999/"), 404)
    assert_error(api_client.patch("/api/v1/phone-numbers/999999/", {"label": "x"}), 404)
    assert_error(api_client.delete("/api/v1/phone-numbers/999999/"), 404)
    assert_error(api_client.get("/api/v1/phone-numbers/abc/"), 404)


def test_phone_number_create_saves_pending_and_queues_a_push(
    api_client, django_capture_on_commit_callbacks
):
    with (
        mock.patch.object(tasks.push_phone_number, "delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = api_client.post(
            "/api/v1/phone-numbers/",
            {
                "e164": "(415) 555-0123",
                "label": "Support",
                "outbound_address": "sip.carrier.example",
                "outbound_user": "trunk",
                "outbound_password": SIP_PASSWORD,
            },
            format="json",
        )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["e164"] == "+14155550123"  # national input normalised
    assert body["sync_state"] == "pending"
    assert body["has_outbound_password"] is True
    assert "outbound_password" not in body
    assert SIP_PASSWORD not in response.content.decode()
    number = PhoneNumber.objects.get(pk=body["id"])
    assert number.outbound_password == SIP_PASSWORD
    delay.assert_called_once_with(number.pk)


def test_phone_number_create_bad_input_names_the_fields(api_client, caller_number):
    response = api_client.post(
        "/api/v1/phone-numbers/",
        {"e164": "not a number", "label": "x", "provider": "acme"},
        format="json",
    )
    assert_error(response, 400, "provider")  # serializer validation

    response = api_client.post(
        "/api/v1/phone-numbers/", {"e164": "not a number", "label": "x"}, format="json"
    )
    error = assert_error(response, 400, "e164")  # the service's validation
    assert "not a phone number" in error["fields"]["e164"][0]

    response = api_client.post(
        "/api/v1/phone-numbers/", {"e164": "+14155550100", "label": "Again"}, format="json"
    )
    assert "already in the list" in assert_error(response, 400, "e164")["fields"]["e164"][0]

    response = api_client.post(
        "/api/v1/phone-numbers/",
        {"e164": "+14155550124", "label": "No address", "outbound_password": SIP_PASSWORD},
        format="json",
    )
    assert_error(response, 400, "outbound_address", "outbound_user")
    assert SIP_PASSWORD not in response.content.decode()
    assert PhoneNumber.objects.count() == 1


def test_phone_number_update_keeps_the_password_when_none_is_sent(
    api_client, caller_number, django_capture_on_commit_callbacks
):
    caller_number.outbound_user = "trunk"
    caller_number.outbound_password = SIP_PASSWORD
    caller_number.save()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = api_client.patch(
            f"/api/v1/phone-numbers/{caller_number.pk}/",
            {"label": "Renamed", "outbound_password": ""},
            format="json",
        )

    assert response.status_code == 200, response.content
    assert response.json()["label"] == "Renamed"
    assert response.json()["sync_state"] == "pending"
    assert "outbound_password" not in response.json()
    caller_number.refresh_from_db()
    assert caller_number.outbound_password == SIP_PASSWORD
    assert len(callbacks) == 1  # the push

    response = api_client.patch(
        f"/api/v1/phone-numbers/{caller_number.pk}/",
        {"outbound_password": "an0ther-Passw0rd"},
        format="json",
    )
    assert response.status_code == 200
    assert "an0ther-Passw0rd" not in response.content.decode()
    caller_number.refresh_from_db()
    assert caller_number.outbound_password == "an0ther-Passw0rd"


def test_phone_number_update_refuses_to_keep_the_password_for_a_new_address(
    api_client, caller_number
):
    caller_number.outbound_user = "trunk"
    caller_number.outbound_password = SIP_PASSWORD
    caller_number.save()
    url = f"/api/v1/phone-numbers/{caller_number.pk}/"

    response = api_client.patch(url, {"outbound_address": "sip.elsewhere.example"}, format="json")

    assert_error(response, 400, "outbound_password")
    assert "enter the SIP password for the new address" in response.content.decode()
    caller_number.refresh_from_db()
    assert caller_number.outbound_address == "sip.carrier.example"
    assert caller_number.outbound_password == SIP_PASSWORD

    response = api_client.patch(
        url,
        {"outbound_address": "sip.elsewhere.example", "outbound_password": "for-elsewhere-1"},
        format="json",
    )
    assert response.status_code == 200, response.content
    caller_number.refresh_from_db()
    assert caller_number.outbound_password == "for-elsewhere-1"


def test_phone_number_update_bad_input_is_400(api_client, caller_number):
    response = api_client.patch(
        f"/api/v1/phone-numbers/{caller_number.pk}/",
        {"inbound_allowed_addresses": ["not-an-ip"]},
        format="json",
    )

    assert_error(response, 400, "inbound_allowed_addresses")
    caller_number.refresh_from_db()
    assert caller_number.inbound_allowed_addresses == []


def test_phone_number_delete(api_client, caller_number):
    response = api_client.delete(f"/api/v1/phone-numbers/{caller_number.pk}/")

    assert response.status_code == 204
    assert not PhoneNumber.objects.exists()


def test_phone_number_delete_of_a_pushed_number_is_accepted(api_client, caller_number):
    caller_number.pushed_config = {"label": "Sales"}
    caller_number.save()

    response = api_client.delete(f"/api/v1/phone-numbers/{caller_number.pk}/")

    assert response.status_code == 202
    assert response.json()["result"] == "deleting"
    caller_number.refresh_from_db()
    assert caller_number.sync_state == PhoneNumber.SyncState.DELETING


def test_phone_number_delete_refused_with_the_guards_message(api_client, caller_number):
    make_call(caller=caller_number, status=CallStatus.RINGING)

    response = api_client.delete(f"/api/v1/phone-numbers/{caller_number.pk}/")

    error = assert_error(response, 400)
    assert error["message"] == (
        "+14155550100 has 1 live call: wait until they end, or hang them up first."
    )
    assert PhoneNumber.objects.filter(pk=caller_number.pk).exists()


def test_phone_numbers_sync_queues_the_task(api_client):
    with mock.patch.object(tasks.sync_phone_numbers, "delay") as delay:
        response = api_client.post("/api/v1/phone-numbers/sync/")

    assert response.status_code == 202
    assert response.json()["result"] == "queued"
    delay.assert_called_once_with()


# -- agents -----------------------------------------------------------------------------------

SECRET_PROPERTIES = {
    "llm": {"url": "https://llm.example/v1", "api_key": "sk-very-secret-key", "params": {}},
    "tts": {"vendor": "microsoft", "params": {"key": "tts-secret-key", "voice_name": "en-US"}},
}


def test_agents_list_and_retrieve_mask_secrets(api_client):
    agent = AgentProfile.objects.create(
        name="Full agent", properties=SECRET_PROPERTIES, greeting_template="Hi {{first_name}}"
    )

    listed = api_client.get("/api/v1/agents/")
    detail = api_client.get(f"/api/v1/agents/{agent.pk}/")

    assert listed.status_code == detail.status_code == 200
    assert listed.json()["results"] == [detail.json()]
    properties = detail.json()["properties"]
    assert properties["llm"]["api_key"] == "********"
    assert properties["tts"]["params"]["key"] == "********"
    assert properties["llm"]["url"] == "https://llm.example/v1"
    assert detail.json()["required_variables"] == ["first_name"]
    for response in (listed, detail):
        assert "sk-very-secret-key" not in response.content.decode()
        assert "tts-secret-key" not in response.content.decode()


def test_agent_unknown_id_is_404(api_client):
    assert_error(api_client.get("/api/v1/agents/999999/"), 404)
    assert_error(api_client.delete("/api/v1/agents/999999/"), 404)


def test_agent_create(api_client):
    response = api_client.post(
        "/api/v1/agents/",
        {"name": "Full agent", "properties": SECRET_PROPERTIES},
        format="json",
    )

    assert response.status_code == 201, response.content
    assert response.json()["properties"]["llm"]["api_key"] == "********"
    agent = AgentProfile.objects.get(pk=response.json()["id"])
    assert agent.properties == SECRET_PROPERTIES


def test_agent_create_bad_input_names_the_fields(api_client, agent_profile):
    response = api_client.post("/api/v1/agents/", {"name": "No config"}, format="json")
    error = assert_error(response, 400, "properties")
    assert "llm" in " ".join(error["fields"]["properties"])

    response = api_client.post(
        "/api/v1/agents/", {"name": agent_profile.name, "pipeline_id": "p"}, format="json"
    )
    assert_error(response, 400, "name")

    response = api_client.post(
        "/api/v1/agents/", {"name": "List", "pipeline_id": "p", "properties": []}, format="json"
    )
    assert_error(response, 400, "properties")

    response = api_client.post(
        "/api/v1/agents/",
        {"name": "Masked", "properties": {**SECRET_PROPERTIES, "llm": {"api_key": "********"}}},
        format="json",
    )
    assert_error(response, 400, "properties")
    assert AgentProfile.objects.count() == 1


def test_agent_update_keeps_a_masked_secret(api_client):
    agent = AgentProfile.objects.create(name="Full agent", properties=SECRET_PROPERTIES)
    shown = api_client.get(f"/api/v1/agents/{agent.pk}/").json()["properties"]
    shown["llm"]["params"] = {"model": "gpt-4o-mini"}
    shown["tts"]["params"]["voice_name"] = "en-GB"

    response = api_client.patch(
        f"/api/v1/agents/{agent.pk}/",
        {"properties": shown, "description": "changed"},
        format="json",
    )

    assert response.status_code == 200, response.content
    agent.refresh_from_db()
    assert agent.description == "changed"
    assert agent.properties["llm"] == {
        **SECRET_PROPERTIES["llm"],
        "params": {"model": "gpt-4o-mini"},
    }
    assert agent.properties["tts"]["params"] == {"key": "tts-secret-key", "voice_name": "en-GB"}


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda shown: shown["llm"].update(url="https://attacker.example/v1"), "llm.url"),
        (lambda shown: shown["tts"].update(vendor="elevenlabs"), "tts.vendor"),
        (lambda shown: shown["tts"]["params"].update(region="westeurope"), "tts.params.region"),
    ],
)
def test_agent_update_refuses_a_masked_secret_kept_for_a_new_endpoint(api_client, change, where):
    agent = AgentProfile.objects.create(name="Full agent", properties=SECRET_PROPERTIES)
    shown = api_client.get(f"/api/v1/agents/{agent.pk}/").json()["properties"]
    change(shown)

    response = api_client.patch(f"/api/v1/agents/{agent.pk}/", {"properties": shown}, format="json")

    assert_error(response, 400, "properties")
    [message] = response.json()["error"]["fields"]["properties"]
    assert f"{where} changed" in message and "enter the" in message
    assert "secret-key" not in response.content.decode()
    agent.refresh_from_db()
    assert agent.properties == SECRET_PROPERTIES


def test_agent_update_moves_to_a_new_endpoint_with_its_new_secret(api_client):
    agent = AgentProfile.objects.create(name="Full agent", properties=SECRET_PROPERTIES)
    shown = api_client.get(f"/api/v1/agents/{agent.pk}/").json()["properties"]
    shown["llm"].update(url="https://other.example/v1", api_key="sk-for-the-other-host")

    response = api_client.patch(f"/api/v1/agents/{agent.pk}/", {"properties": shown}, format="json")

    assert response.status_code == 200, response.content
    agent.refresh_from_db()
    assert agent.properties["llm"]["api_key"] == "sk-for-the-other-host"
    assert agent.properties["tts"]["params"]["key"] == "tts-secret-key"


def test_agent_update_bad_input_is_400(api_client, agent_profile):
    response = api_client.patch(
        f"/api/v1/agents/{agent_profile.pk}/", {"pipeline_id": ""}, format="json"
    )

    assert_error(response, 400, "properties")
    agent_profile.refresh_from_db()
    assert agent_profile.pipeline_id == "pipeline-reminders"


def test_agent_put_is_not_allowed(api_client, agent_profile):
    response = api_client.put(f"/api/v1/agents/{agent_profile.pk}/", {}, format="json")

    assert_error(response, 405)


def test_agent_delete(api_client, agent_profile):
    response = api_client.delete(f"/api/v1/agents/{agent_profile.pk}/")

    assert response.status_code == 204

    assert not AgentProfile.objects.exists()


def test_agent_delete_used_by_a_campaign_is_refused(api_client, agent_profile):
    make_campaign(agent_profile, "Spring reminders")

    response = api_client.delete(f"/api/v1/agents/{agent_profile.pk}/")

    error = assert_error(response, 400)
    assert "Spring reminders" in error["message"]
    assert "campaign" in error["message"]
    assert AgentProfile.objects.filter(pk=agent_profile.pk).exists()


# -- calls: creating ---------------------------------------------------------------------------


def call_body(caller_number, agent_profile, **changes) -> dict:
    return {
        "to_number": "+14155550111",
        "caller_id": caller_number.pk,
        "agent": agent_profile.pk,
        "variables": {"first_name": "Ada"},
        "labels": {"crm_id": "42"},
        **changes,
    }


def test_call_create_queues_placement(
    api_client, caller_number, agent_profile, django_capture_on_commit_callbacks
):
    with (
        mock.patch.object(tasks.place_call, "delay") as delay,
        django_capture_on_commit_callbacks(execute=False) as callbacks,
    ):
        response = api_client.post(
            "/api/v1/calls/", call_body(caller_number, agent_profile), format="json"
        )

    assert response.status_code == 201, response.content
    body = response.json()
    call = Call.objects.get()
    assert body["id"] == str(call.pk)
    assert body["status"] == "queued"
    assert body["caller_number"] == "+14155550100"
    assert body["agent_name"] == "Reminder bot"
    assert body["labels"] == {"crm_id": "42"}
    assert [event["to_status"] for event in body["events"]] == ["queued"]
    assert call.events.get().source == CallEvent.Source.API
    assert len(callbacks) == 1  # placement waits for the commit
    assert delay.call_count == 0
    callbacks[0]()
    delay.assert_called_once_with(str(call.pk))


def test_call_create_accepts_a_number_and_an_agent_name(api_client, caller_number, agent_profile):
    response = api_client.post(
        "/api/v1/calls/",
        call_body(caller_number, agent_profile, caller_id="+1 415-555-0100", agent="Reminder bot",
                  to_number="(415) 555-0199"),
        format="json",
    )  # fmt: skip

    assert response.status_code == 201, response.content
    call = Call.objects.get()
    assert (call.caller_id, call.agent_profile, call.to_number) == (
        caller_number,
        agent_profile,
        "+14155550199",
    )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"caller_id": 999999}, "caller_id"),
        ({"agent": "Nobody"}, "agent"),
        ({"to_number": "12"}, "to_number"),
        ({"to_number": ""}, "to_number"),
        ({"variables": {}}, "variables"),  # the greeting needs {{first_name}}
        ({"labels": "x"}, "labels"),
    ],
)
def test_call_create_bad_input_is_400(api_client, caller_number, agent_profile, changes, field):
    response = api_client.post(
        "/api/v1/calls/", call_body(caller_number, agent_profile, **changes), format="json"
    )

    assert_error(response, 400, field)
    assert not Call.objects.exists()


def test_call_create_from_a_number_without_outbound_is_400(
    api_client, caller_number, agent_profile
):
    caller_number.outbound = False
    caller_number.save()

    response = api_client.post(
        "/api/v1/calls/", call_body(caller_number, agent_profile), format="json"
    )

    assert (
        "not enabled for outbound"
        in assert_error(response, 400, "caller_id")["fields"]["caller_id"][0]
    )


def test_call_create_with_the_same_idempotency_key_creates_one_call(
    api_client, caller_number, agent_profile, django_capture_on_commit_callbacks
):
    body = call_body(caller_number, agent_profile)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first = api_client.post("/api/v1/calls/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
        second = api_client.post("/api/v1/calls/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["Idempotent-Replay"] == "true"
    assert Call.objects.count() == 1
    assert len(callbacks) == 1

    other = api_client.post(
        "/api/v1/calls/",
        {**body, "to_number": "+14155550112"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-1",
    )
    assert assert_error(other, 422)["code"] == "idempotency_key_reused"
    assert Call.objects.count() == 1


def test_a_refused_call_does_not_use_up_the_idempotency_key(
    api_client, caller_number, agent_profile
):
    body = call_body(caller_number, agent_profile, agent="Nobody")
    assert_error(api_client.post("/api/v1/calls/", body, format="json",
                                 HTTP_IDEMPOTENCY_KEY="k-2"), 400)  # fmt: skip
    AgentProfile.objects.create(name="Nobody", pipeline_id="p")

    response = api_client.post("/api/v1/calls/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-2")

    assert response.status_code == 201
    assert Call.objects.count() == 1


# -- calls: reading ---------------------------------------------------------------------------


def test_call_retrieve_has_events_transcript_and_metrics(api_client, caller_number, agent_profile):
    call = make_call(
        caller=caller_number,
        agent=agent_profile,
        status=CallStatus.COMPLETED,
        transcript=[{"role": "assistant", "content": "Hello"}],
        turn_metrics={"turns": 1},
    )
    now = timezone.now()
    CallEvent.objects.create(
        call=call, source="webhook", kind="status", to_status="completed", created_at=now,
        payload={"state": "HANGUP", "token": "007-secret-token"},
    )  # fmt: skip
    CallEvent.objects.create(
        call=call, source="api", kind="status", to_status="queued",
        created_at=now - timedelta(seconds=5),
    )  # fmt: skip

    response = api_client.get(f"/api/v1/calls/{call.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert [event["to_status"] for event in body["events"]] == ["queued", "completed"]
    assert body["transcript"] == [{"role": "assistant", "content": "Hello"}]
    assert body["turn_metrics"] == {"turns": 1}
    assert body["caller_number"] == "+14155550100"
    assert "007-secret-token" not in response.content.decode()


def test_call_unknown_id_is_404(api_client):
    assert_error(api_client.get(f"/api/v1/calls/{uuid.uuid4()}/"), 404)
    assert_error(api_client.get("/api/v1/calls/not-a-uuid/"), 404)
    assert_error(api_client.post(f"/api/v1/calls/{uuid.uuid4()}/hangup/"), 404)


def test_calls_cannot_be_changed_or_deleted(api_client, caller_number):
    call = make_call(caller=caller_number)

    assert_error(api_client.patch(f"/api/v1/calls/{call.pk}/", {}, format="json"), 405)
    assert_error(api_client.delete(f"/api/v1/calls/{call.pk}/"), 405)
    assert Call.objects.filter(pk=call.pk).exists()


def listed_ids(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_calls_list_filters(api_client, caller_number, agent_profile):
    other_caller = PhoneNumber.objects.create(
        e164="+14155550101", label="Other", outbound_address="sip.example"
    )
    ringing = make_call(caller=caller_number, agent=agent_profile, status=CallStatus.RINGING)
    busy = make_call(
        to_number="+14155550122", caller=other_caller, agent=agent_profile, status=CallStatus.BUSY
    )
    inbound = make_call(
        to_number="+14155550101", direction=Call.Direction.INBOUND, status=CallStatus.COMPLETED
    )
    campaign = make_campaign(agent_profile)
    attach_to_campaign(busy, campaign)
    Call.objects.filter(pk=inbound.pk).update(created_at=timezone.now() - timedelta(days=2))

    def ids(**params):
        return listed_ids(api_client.get("/api/v1/calls/", params))

    assert ids() == {str(ringing.pk), str(busy.pk), str(inbound.pk)}
    assert ids(status=["ringing", "busy"]) == {str(ringing.pk), str(busy.pk)}
    assert ids(status="completed") == {str(inbound.pk)}
    assert ids(direction="inbound") == {str(inbound.pk)}
    assert ids(campaign=campaign.pk) == {str(busy.pk)}
    assert ids(number="(415) 555-0122") == {str(busy.pk)}  # to_number, national input
    assert ids(number="+14155550101") == {str(busy.pk), str(inbound.pk)}  # from or to
    since = (timezone.now() - timedelta(days=1)).isoformat()
    assert ids(created_after=since) == {str(ringing.pk), str(busy.pk)}
    assert ids(created_before=since) == {str(inbound.pk)}

    listed = api_client.get("/api/v1/calls/", {"campaign": campaign.pk}).json()["results"][0]
    assert listed["campaign"] == campaign.pk
    assert listed["caller_number"] == "+14155550101"
    assert listed["agent_name"] == "Reminder bot"
    assert "events" not in listed


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "nonsense"}, "status"),
        ({"direction": "sideways"}, "direction"),
        ({"number": "not a number"}, "number"),
        ({"created_after": "yesterday"}, "created_after"),
        ({"campaign": "x"}, "campaign"),
    ],
)
def test_calls_list_bad_filters_are_400(api_client, params, field):
    assert_error(api_client.get("/api/v1/calls/", params), 400, field)


# -- calls: hanging up ------------------------------------------------------------------------


def test_hangup_of_a_placed_call(api_client, place, agora, django_capture_on_commit_callbacks):
    call = place("+14155550111")
    assert call.agent_id

    with (
        mock.patch.object(tasks.hangup_call, "delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = api_client.post(f"/api/v1/calls/{call.pk}/hangup/")

    assert response.status_code == 202, response.content
    assert response.json()["result"] == "hanging up"
    delay.assert_called_once_with(str(call.pk))
    call.refresh_from_db()
    assert call.hangup_requested_at is not None
    assert call.events.filter(source=CallEvent.Source.API, detail="hang-up requested").exists()


def test_hangup_of_a_queued_call_cancels_it(api_client, caller_number):
    call = make_call(caller=caller_number)

    response = api_client.post(f"/api/v1/calls/{call.pk}/hangup/")

    assert response.status_code == 202
    assert response.json()["result"] == "canceled"
    call.refresh_from_db()
    assert call.status == CallStatus.CANCELED


def test_hangup_of_an_ended_call(api_client, caller_number):
    call = make_call(caller=caller_number, status=CallStatus.COMPLETED)

    response = api_client.post(f"/api/v1/calls/{call.pk}/hangup/")

    assert response.status_code == 202
    assert response.json()["result"] == "already ended"


# -- no query per row -------------------------------------------------------------------------


def count_queries(client, path: str, page_size: int) -> int:
    client.get(path, {"page_size": 1})  # the key's last_used_at is written once a minute
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path, {"page_size": page_size})
    assert response.status_code == 200
    assert len(response.json()["results"]) == page_size
    return len(queries)


def test_phone_numbers_list_query_count_does_not_grow(api_client):
    PhoneNumber.objects.bulk_create(
        PhoneNumber(e164=f"+1415555{index:04d}", label=f"n{index}") for index in range(200, 225)
    )

    small = count_queries(api_client, "/api/v1/phone-numbers/", 2)
    large = count_queries(api_client, "/api/v1/phone-numbers/", 20)

    assert small == large


def test_agents_list_query_count_does_not_grow(api_client):
    AgentProfile.objects.bulk_create(
        AgentProfile(name=f"agent {index}", pipeline_id="p", properties={"llm": {"api_key": "k"}})
        for index in range(25)
    )

    small = count_queries(api_client, "/api/v1/agents/", 2)
    large = count_queries(api_client, "/api/v1/agents/", 20)

    assert small == large


def test_calls_list_query_count_does_not_grow(api_client, caller_number, agent_profile):
    campaign = make_campaign(agent_profile)
    for index in range(25):
        call = make_call(caller=caller_number, agent=agent_profile)
        CallEvent.objects.create(call=call, source="api", kind="status", to_status="queued")
        if index % 2:
            attach_to_campaign(call, campaign)

    small = count_queries(api_client, "/api/v1/calls/", 2)
    large = count_queries(api_client, "/api/v1/calls/", 20)

    assert small == large


def test_api_key_fixture_is_a_working_key(api_key):
    assert ApiKey.objects.get().prefix in api_key


def test_a_key_with_an_underscore_authenticates(db):
    from rest_framework.test import APIClient

    api_key, _ = ApiKey.issue(name="CRM", scopes=ApiScope.values)
    plain = f"cck_{api_key.prefix}_{'a' * 20}_{'b' * 22}"  # as token_urlsafe() may produce
    ApiKey.objects.filter(pk=api_key.pk).update(key_hash=ApiKey.hash(plain))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {plain}")

    assert client.get("/api/v1/agents/").status_code == 200
