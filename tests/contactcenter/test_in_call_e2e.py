"""Issue 16's "done when", end to end: a real worker and beat on PostgreSQL and Redis, the MCP
server (`manage.py mcp_server`) and the simulator server, whose scripted callees talk and whose
agents call the in-call tools over MCP as Agora's would.

- a callback asked for in the call is placed again at the time asked for (inside the window);
- an opt-out puts the number on do-not-call and it is never called again, in any campaign;
- a voicemail box ends `voicemail`, and with `leave_message` the message is spoken exactly once,
  before the hang-up;
- the agent records an outcome;
- a supervisor's think and speak reach the agent and show in the call's timeline."""

import sys
from contextlib import ExitStack
from datetime import timedelta

import httpx
import pytest
from django.conf import settings

from campaigns.models import Campaign, CampaignContact, Contact, ContactList, DoNotCall
from campaigns.services.campaigns import campaign_start
from telephony.agora import AgoraClient, AgoraConfig
from telephony.clients import use_agora_client
from telephony.models import Call, CallEvent, VoicemailPolicy
from telephony.services.calls import call_create, call_hangup, call_supervise
from telephony.states import CallStatus
from tests.support.clock import daytime_zone
from tests.support.e2e import app_env, import_caller, simulator_args, worker_env
from tests.support.factories import EVERY_DAY
from tests.support.processes import (
    ManagedProcess,
    celery_beat,
    celery_worker,
    free_port,
    process_env,
    simulator_server,
    wait_for,
)

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True), pytest.mark.real_clock]
CS = CampaignContact.Status

# The simulator's scripted callees (telephony/simulator/callees.py): the 555 exchange, by the
# fourth digit from the end; the last three are the outcome rules' (talk seconds, then 0 answers
# / 4 talks until hung up).
CALLBACK = "+14155556100"  # asks to be called back (--callback-when), talks 10 s
OPT_OUT = "+14155557100"  # asks not to be called again
VOICEMAIL = "+14155555004"  # a voicemail box that never hangs up
OUTCOME = "+14155558120"  # interested: the agent records the outcome
PERSON = "+14155500004"  # a person who talks until hung up (the supervisor's call)
MESSAGE = "Hi {{first_name}}, this is Acme about your renewal. Please call us back."
CALLBACK_AFTER = 40  # seconds: what the callback callee asks for, "in 40 seconds"


def make_campaign(name, caller, profile, phones, *, now, **fields) -> Campaign:
    """Contacts where it is midday `now` (the workers share the real clock)."""
    contact_list = ContactList.objects.create(name=f"{name} list")
    zone = daytime_zone(now)
    Contact.objects.bulk_create(
        Contact(
            contact_list=contact_list, consent=True, phone=phone, first_name="Ada", timezone=zone
        )
        for phone in phones
    )
    campaign = Campaign.objects.create(
        name=name, agent_profile=profile, max_attempts=1, max_callbacks=1,
        max_calls_per_minute=600, **EVERY_DAY, **fields,
    )  # fmt: skip
    campaign.contact_lists.add(contact_list)
    campaign.caller_ids.add(caller)
    return campaign


def entry(campaign: Campaign, phone: str) -> CampaignContact:
    return campaign.contacts.select_related("last_call").get(contact__phone=phone)


def calls_to(ledger: list[dict], phone: str) -> list[dict]:
    return [call for call in ledger if call["to_number"] == phone]


@pytest.fixture
def stack(tmp_path, redis_db, caller_number):
    """The MCP server, the simulator server, a worker and beat; yields the simulator's URL."""
    with ExitStack() as stack:
        port = free_port()
        mcp = ManagedProcess(
            "mcp",
            [sys.executable, "manage.py", "mcp_server", "--port", str(port)],
            env=process_env(DEBUG="true", **worker_env("http://127.0.0.1:9")),
            log_path=tmp_path / "mcp.log",
        )
        stack.callback(mcp.stop)
        mcp.wait_for_log("Uvicorn running", timeout=60)
        args = simulator_args("--callback-when", f"in {CALLBACK_AFTER} seconds")
        base_url = stack.enter_context(simulator_server(tmp_path, *args))
        import_caller(base_url, caller_number)
        env = app_env(base_url, 8) | {
            "MCP_PUBLIC_URL": f"http://127.0.0.1:{port}/mcp",
            "VOICEMAIL_DETECTION_POLL_SECONDS": "2,5,9",
        }
        stack.enter_context(celery_worker(tmp_path, hostname="incall@test", concurrency=4, **env))
        stack.enter_context(celery_beat(tmp_path, **env))
        yield base_url


def test_what_the_callee_says_changes_what_the_product_does(
    stack, caller_number, agent_profile, clock
):
    base_url = stack
    campaign = make_campaign(
        "Renewals", caller_number, agent_profile, [CALLBACK, OPT_OUT, VOICEMAIL, OUTCOME],
        now=clock.now(), voicemail_policy=VoicemailPolicy.LEAVE_MESSAGE, voicemail_message=MESSAGE,
    )  # fmt: skip
    campaign_start(campaign=campaign)

    # The callback: the first call ends with the callback scheduled "in 40 seconds"...
    first = wait_for(
        lambda: (e := entry(campaign, CALLBACK)).status == CS.CALLBACK_SCHEDULED and e,
        timeout=60, message="the callback to be scheduled in the call",
    )  # fmt: skip
    asked_at = first.last_call.events.get(source="agent", payload__tool="schedule_callback")
    assert first.callback_at == pytest.approx(
        asked_at.created_at + timedelta(seconds=CALLBACK_AFTER), abs=timedelta(seconds=3)
    )
    assert first.callbacks == 1
    # ... and the contact is called again then, not before; the callback used no attempt
    # (max_attempts is 1), and a second one is refused (max_callbacks is 1).
    done = wait_for(
        lambda: (e := entry(campaign, CALLBACK)).attempts == 2 and e.status == CS.COMPLETED and e,
        timeout=CALLBACK_AFTER + 60, message="the callback call to be placed and to end",
    )  # fmt: skip
    second = done.last_call
    assert second.queued_at >= first.callback_at
    refused = second.events.get(source="agent", payload__tool="schedule_callback")
    assert "the campaign's maximum" in refused.payload["error"]

    # The opt-out: on the list with the call as its source; not called again anywhere.
    opted_out = entry(campaign, OPT_OUT)
    assert opted_out.status == CS.DO_NOT_CALL
    blocked = DoNotCall.objects.get(phone=OPT_OUT)
    assert (blocked.source, blocked.call_id) == ("call", opted_out.last_call_id)
    other = make_campaign("Upsell", caller_number, agent_profile, [OPT_OUT], now=clock.now())
    campaign_start(campaign=other)
    wait_for(lambda: entry(other, OPT_OUT).status == CS.DO_NOT_CALL, timeout=20,
             message="the other campaign to refuse the opted-out number")  # fmt: skip

    # The voicemail box: the message spoken once, then hung up; the call ends `voicemail`.
    wait_for(lambda: entry(campaign, VOICEMAIL).last_call.status == CallStatus.VOICEMAIL,
             timeout=60, message="the voicemail call to end voicemail")  # fmt: skip

    # The outcome the agent recorded.
    outcome_call = wait_for(
        lambda: (c := entry(campaign, OUTCOME).last_call).is_terminal and c, timeout=60,
        message="the outcome call to end",
    )  # fmt: skip
    assert (outcome_call.outcome, outcome_call.outcome_fields) == (
        "interested",
        {"next_step": "send details by email"},
    )

    ledger = httpx.get(f"{base_url}/_simulator/calls").json()
    assert len(calls_to(ledger, OPT_OUT)) == 1
    assert len(calls_to(ledger, CALLBACK)) == 2
    (voicemail,) = calls_to(ledger, VOICEMAIL)
    speaks = [control for control in voicemail["controls"] if control["action"] == "speak"]
    assert [(s["text"], s["priority"], s["interruptable"]) for s in speaks] == [
        (MESSAGE.replace("{{first_name}}", "Ada"), "INTERRUPT", False)
    ]
    assert voicemail["reason"] == "request" and voicemail["ended_at"] > speaks[0]["at"]
    tools = [call["tool"] for call in calls_to(ledger, OUTCOME)[0]["tool_calls"]]
    assert tools == ["get_contact", "record_outcome", "end_call"]


def test_a_supervisors_think_and_speak_reach_the_agent_and_the_timeline(
    stack, caller_number, agent_profile, clock
):
    base_url = stack
    call = call_create(
        to_number=PERSON, caller_id=caller_number, agent_profile=agent_profile,
        variables={"first_name": "Ada"}, callee_timezone=daytime_zone(clock.now()),
    )  # fmt: skip
    wait_for(lambda: Call.objects.get(pk=call.pk).status == CallStatus.ANSWERED, timeout=30,
             message="the call to be answered")  # fmt: skip
    client = AgoraClient(
        AgoraConfig(
            app_id=settings.AGORA_APP_ID,
            customer_id=settings.AGORA_CUSTOMER_ID,
            customer_secret=settings.AGORA_CUSTOMER_SECRET,
            base_url=base_url,
        )
    )
    with client, use_agora_client(client):
        call_supervise(call_id=call.pk, action="think", who="supervisor",
                       text="Offer the annual plan.")  # fmt: skip
        call_supervise(call_id=call.pk, action="speak", who="supervisor",
                       text="One moment please.", priority="APPEND")  # fmt: skip
        history = client.get_agent_history(Call.objects.get(pk=call.pk).agent_id)
    assert [m.content for m in history.contents][-2:] == [
        "Offer the annual plan.",
        "One moment please.",
    ]
    timeline = list(
        Call.objects.get(pk=call.pk)
        .events.filter(kind=CallEvent.Kind.NOTE, source="staff")
        .values_list("detail", flat=True)
    )
    assert timeline[-2:] == [
        "supervisor: think 'Offer the annual plan.'",
        "supervisor: speak 'One moment please.'",
    ]
    (placed,) = calls_to(httpx.get(f"{base_url}/_simulator/calls").json(), PERSON)
    assert [c["action"] for c in placed["controls"]] == ["think", "speak"]
    call_hangup(call_id=call.pk)
    wait_for(lambda: Call.objects.get(pk=call.pk).is_terminal, timeout=30,
             message="the call to end")  # fmt: skip
