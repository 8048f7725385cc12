"""The in-call tools: the services behind each tool, the per-call credential, and the MCP server
as the official `mcp` client sees it over streamable HTTP."""

import asyncio
import sys
from datetime import timedelta

import httpx
import httpx2
import pytest
from django.utils import timezone
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from campaigns.models import CampaignAttempt, CampaignContact, DoNotCall
from campaigns.services.campaigns import campaign_start
from contactcenter.agent_tools.services import ToolFailure, tool_call
from telephony import tools
from telephony.models import CallEvent
from telephony.services.tool_credentials import tool_credential_call, tool_credential_issue
from telephony.states import CallStatus
from tests.support.e2e import worker_env
from tests.support.factories import (
    CallFactory,
    CampaignFactory,
    ContactFactory,
    ContactListFactory,
    PhoneNumberFactory,
)
from tests.support.processes import ManagedProcess, free_port, process_env

CS = CampaignContact.Status


def campaign_call(phone="+14155550150", **campaign_fields):
    """A running campaign whose one contact is on an answered call; returns (entry, call)."""
    contact_list = ContactListFactory()
    contact = ContactFactory(contact_list=contact_list, phone=phone, first_name="Ada")
    campaign = CampaignFactory(
        contact_lists=[contact_list], caller_ids=[PhoneNumberFactory()], **campaign_fields
    )
    campaign_start(campaign=campaign)
    entry = campaign.contacts.get(contact=contact)
    call = CallFactory(
        to_number=phone,
        status=CallStatus.ANSWERED,
        answered_at=timezone.now(),
        agent_id=f"AGENT{phone[1:]}",
    )
    CampaignAttempt.objects.create(campaign_contact=entry, campaign=campaign, call=call, number=1)
    entry.status, entry.attempts, entry.last_call = CS.IN_PROGRESS, 1, call
    entry.save()
    return entry, call


# -- the services behind the tools ------------------------------------------------------------


@pytest.mark.django_db
def test_a_repeated_tool_call_has_its_effect_once_and_each_call_is_an_event():
    entry, call = campaign_call()
    arguments = {"when": "tomorrow at 3 pm", "note": "driving"}
    first = tool_call(call=call, tool=tools.SCHEDULE_CALLBACK, arguments=arguments)
    again = tool_call(call=call, tool=tools.SCHEDULE_CALLBACK, arguments=arguments)
    assert again == first
    assert first["time_zone"] == "America/Los_Angeles"
    assert first["callback_at"].startswith("2026-11-26T15:00")
    entry.refresh_from_db()
    assert entry.callbacks == 1
    events = list(call.events.filter(kind=CallEvent.Kind.TOOL).order_by("id"))
    assert [(event.source, event.payload["repeated"]) for event in events] == [
        ("agent", False),
        ("agent", True),
    ]
    assert events[0].payload["arguments"] == arguments
    assert events[0].payload["result"] == first


@pytest.mark.django_db
def test_bad_arguments_get_a_readable_error_and_change_nothing():
    entry, call = campaign_call()
    with pytest.raises(ToolFailure, match="not an outcome here; use one of: interested"):
        tool_call(call=call, tool=tools.RECORD_OUTCOME, arguments={"outcome": "sold"})
    with pytest.raises(ToolFailure, match="not a time I can read"):
        tool_call(call=call, tool=tools.SCHEDULE_CALLBACK, arguments={"when": "someday maybe"})
    with pytest.raises(ToolFailure, match="keep it under 4096"):
        tool_call(
            call=call,
            tool=tools.RECORD_OUTCOME,
            arguments={"outcome": "interested", "fields": {"notes": "x" * 5000}},
        )
    with pytest.raises(ToolFailure, match="no tool named"):
        tool_call(call=call, tool="transfer", arguments={})
    call.refresh_from_db()
    entry.refresh_from_db()
    assert (call.outcome, entry.callbacks, entry.callback_at) == ("", 0, None)
    errors = call.events.filter(kind=CallEvent.Kind.TOOL).values_list("payload__error", flat=True)
    assert len(errors) == 3 and all(errors)


@pytest.mark.django_db
def test_opt_out_blocks_the_number_everywhere_with_the_call_as_its_source():
    _, call = campaign_call()
    other_list = ContactListFactory()
    ContactFactory(contact_list=other_list, phone="+14155550150")
    elsewhere = CampaignFactory(
        name="Renewals", contact_lists=[other_list], caller_ids=[PhoneNumberFactory()]
    )
    campaign_start(campaign=elsewhere)

    result = tool_call(call=call, tool=tools.OPT_OUT, arguments={"note": "stop calling me"})
    assert result["ok"] is True
    blocked = DoNotCall.objects.get(phone="+14155550150")
    assert (blocked.source, blocked.call_id, blocked.reason) == ("call", call.pk, "stop calling me")
    assert elsewhere.contacts.get().status == CS.DO_NOT_CALL


@pytest.mark.django_db
def test_outcome_contact_and_end_call(agora, imported_caller, agent_profile):
    entry, call = campaign_call()
    assert tool_call(call=call, tool=tools.GET_CONTACT, arguments={}) | {} == {
        "phone": "+14155550150",
        "first_name": "Ada",
        "last_name": "",
        "external_id": "",
        "variables": {},
        "campaign": entry.campaign.name,
        "outcomes": entry.campaign.outcomes,
        "time_zone": "America/Los_Angeles",
        "local_time": "Wednesday 2026-11-25 10:00",
    }
    tool_call(
        call=call,
        tool=tools.RECORD_OUTCOME,
        arguments={"outcome": "interested", "fields": {"plan": "basic"}},
    )
    call.refresh_from_db()
    assert (call.outcome, call.outcome_fields) == ("interested", {"plan": "basic"})

    result = tool_call(call=call, tool=tools.END_CALL, arguments={"reason": "conversation done"})
    assert result == {"ok": True, "result": "hanging up"}
    call.refresh_from_db()
    assert call.hangup_requested_at is not None
    assert call.events.filter(
        source="agent", detail="hang-up requested: conversation done"
    ).exists()


# -- the credential ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_credential_names_its_call_while_live_and_a_short_grace_after(settings, clock):
    settings.MCP_CREDENTIAL_GRACE_SECONDS = 120
    call = CallFactory(status=CallStatus.ANSWERED, answered_at=clock.now())
    token = tool_credential_issue(call, now=clock.now())
    assert call.tool_credentials.get().token_hash != token  # only a hash is stored
    assert tool_credential_call(token, now=clock.now()) == call
    assert tool_credential_call(token + "x", now=clock.now()) is None
    assert tool_credential_call("", now=clock.now()) is None

    call.status, call.ended_at = CallStatus.COMPLETED, clock.now()
    call.save()
    assert tool_credential_call(token, now=clock.now() + timedelta(seconds=119)) == call
    assert tool_credential_call(token, now=clock.now() + timedelta(seconds=121)) is None


@pytest.mark.django_db
def test_a_placed_call_carries_the_mcp_entry_only_when_the_app_has_a_public_url(
    settings, simulator, place
):
    settings.MCP_PUBLIC_URL = ""
    plain = place("+14155550150")
    assert simulator.ledger.calls[-1].mcp_server is None
    assert not plain.tool_credentials.exists()

    settings.MCP_PUBLIC_URL = "https://cc.example/mcp"
    with_tools = place("+14155550160")
    server = simulator.ledger.calls[-1].mcp_server
    assert server["endpoint"] == "https://cc.example/mcp"
    assert server["transport"] == "streamable_http"
    assert set(server["allowed_tools"]) == set(tools.TOOL_NAMES)
    token = server["headers"]["Authorization"].removeprefix("Bearer ")
    assert tool_credential_call(token, now=with_tools.created_at) == with_tools

    with_tools.agent_profile.tools_enabled = False
    with_tools.agent_profile.save()
    place("+14155550170")
    assert simulator.ledger.calls[-1].mcp_server is None


@pytest.mark.django_db
def test_the_tool_instructions_follow_the_system_prompt_only_with_tools(settings, agent_profile):
    from telephony.services.agents import agent_properties_for_call

    agent_profile.system_prompt_template = "You confirm appointments."
    _, without = agent_properties_for_call(agent_profile, {"first_name": "Ada"})
    _, with_tools = agent_properties_for_call(agent_profile, {"first_name": "Ada"}, with_tools=True)
    assert [m["content"] for m in without["llm"]["system_messages"]] == [
        "You confirm appointments."
    ]
    contents = [m["content"] for m in with_tools["llm"]["system_messages"]]
    assert contents[0] == "You confirm appointments."
    assert "schedule_callback" in contents[1] and "opt_out" in contents[1]


@pytest.mark.django_db
def test_a_call_placed_without_a_callback_campaign_says_so(settings, place):
    settings.MCP_PUBLIC_URL = "https://cc.example/mcp"
    call = place("+14155550150")
    with pytest.raises(ToolFailure, match="not part of a campaign"):
        tool_call(call=call, tool=tools.SCHEDULE_CALLBACK, arguments={"when": "tomorrow 3pm"})


# -- over MCP, with the official client -------------------------------------------------------


@pytest.fixture(scope="module")
def mcp_url(django_db_setup, django_db_blocker, tmp_path_factory):
    """`manage.py mcp_server` on the test database; yields its /mcp URL."""
    with django_db_blocker.unblock():
        env = worker_env("http://127.0.0.1:9")
    port = free_port()
    server = ManagedProcess(
        "mcp",
        [sys.executable, "manage.py", "mcp_server", "--port", str(port)],
        env=process_env(DEBUG="true", **env),
        log_path=tmp_path_factory.mktemp("mcp") / "mcp.log",
    )
    try:
        server.wait_for_log("Uvicorn running", timeout=60)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        server.stop()


def over_mcp(url: str, token: str, work):
    async def run():
        headers = {"Authorization": f"Bearer {token}"}
        async with (
            httpx2.AsyncClient(headers=headers, timeout=10) as http,
            Client(streamable_http_client(url, http_client=http)) as client,
        ):
            return await work(client)

    return asyncio.run(run())


@pytest.mark.real_clock
@pytest.mark.django_db(transaction=True)
def test_the_official_client_lists_and_calls_the_tools(mcp_url, clock):
    _, call = campaign_call("+14155550180")
    token = tool_credential_issue(call, now=clock.now())

    async def work(client):
        listed = await client.list_tools()
        contact = await client.call_tool(tools.GET_CONTACT, {})
        wrong = await client.call_tool(tools.RECORD_OUTCOME, {"outcome": "sold"})
        right = await client.call_tool(
            tools.RECORD_OUTCOME, {"outcome": "interested", "fields": {"plan": "basic"}}
        )
        return listed, contact, wrong, right

    listed, contact, wrong, right = over_mcp(mcp_url, token, work)
    by_name = {tool.name: tool for tool in listed.tools}
    assert set(by_name) == set(tools.TOOL_NAMES)
    assert by_name[tools.SCHEDULE_CALLBACK].input_schema["required"] == ["when"]
    assert (
        "tomorrow at 3 pm"
        in by_name[tools.SCHEDULE_CALLBACK].input_schema["properties"]["when"]["description"]
    )
    assert contact.structured_content["first_name"] == "Ada"
    assert wrong.is_error and "use one of: interested" in wrong.content[0].text
    assert not right.is_error
    call.refresh_from_db()
    assert call.outcome == "interested"


@pytest.mark.real_clock
@pytest.mark.django_db(transaction=True)
def test_a_credential_cannot_act_on_another_call_and_a_bad_one_is_refused(mcp_url, clock):
    _, first = campaign_call("+14155550180")
    second = CallFactory(
        to_number="+14155550190", status=CallStatus.ANSWERED, answered_at=clock.now()
    )
    first_token = tool_credential_issue(first, now=clock.now())
    tool_credential_issue(second, now=clock.now())

    async def work(client):
        return await client.call_tool(tools.RECORD_OUTCOME, {"outcome": "not_interested"})

    over_mcp(mcp_url, first_token, work)
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.outcome, second.outcome) == ("not_interested", "")

    for headers in ({}, {"Authorization": "Bearer forged"}, {"Authorization": first_token}):
        answer = httpx.post(
            mcp_url,
            headers={**headers, "Accept": "application/json, text/event-stream"},
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        )
        assert answer.status_code == 401, headers
        assert "not valid" in answer.json()["error"]

    first.status, first.ended_at = CallStatus.COMPLETED, clock.now() - timedelta(hours=1)
    first.save()
    answer = httpx.post(
        mcp_url,
        headers={"Authorization": f"Bearer {first_token}"},
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
    )
    assert answer.status_code == 401
