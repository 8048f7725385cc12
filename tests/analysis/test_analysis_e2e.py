"""Issue 17's "done when", end to end: a real worker and beat on PostgreSQL and Redis, the
simulator server (its scripted callees talk, its OpenAI-compatible stand-in answers the LLM
analyzer), two campaigns, one per analyzer. Calls end, analyses appear in the admin, the API and
signed `call.analyzed` deliveries, and the finished campaign's results export opens with one row
per contact and the plan's fields as columns."""

import csv
import io
import json
from contextlib import ExitStack

import pytest
from django.urls import reverse

from analysis.models import CallAnalysis
from campaigns.models import Campaign, Contact, ContactList, DoNotCall
from campaigns.services.campaigns import campaign_start
from contactcenter.crm_webhooks.models import WebhookSubscription
from telephony.analysis_fields import FieldSpec, schema_of
from tests.contactcenter.crm_webhooks.test_crm_e2e import crm_receiver, receiver_env, verified
from tests.support.clock import daytime_zone
from tests.support.e2e import app_env, import_caller, simulator_args
from tests.support.factories import EVERY_DAY
from tests.support.processes import celery_beat, celery_worker, simulator_server, wait_for

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True), pytest.mark.real_clock]
__all__ = ["crm_receiver"]  # the fixture, used by name

# Scripted callees (telephony/simulator/callees.py), talking 5 or 6 s then hanging up: 8 is
# interested ("Shall I send you the details?" "Yes please, send them by email."), 7 opts out.
CALLEES = {
    "builtin": ("+14155558050", "+14155557050"),
    "llm": ("+14155558060", "+14155557060"),
}
PLAN = schema_of([
    FieldSpec("wants_details", "boolean", "whether they want the details sent"),
    FieldSpec("plan", "enum", "the plan they chose", ("basic", "premium")),
])  # fmt: skip


@pytest.fixture
def stack(tmp_path, redis_db, caller_number, crm_receiver):
    with ExitStack() as stack:
        base_url = stack.enter_context(simulator_server(tmp_path, *simulator_args()))
        import_caller(base_url, caller_number)
        env = app_env(base_url, 8) | receiver_env(crm_receiver) | {
            "CALL_ANALYSIS_DELAY_SECONDS": "2",
            "ANALYSIS_LLM_URL": f"{base_url}/llm/v1",
            "ANALYSIS_LLM_MODEL": "simulated",
            "ANALYSIS_LLM_API_KEY": "sk-e2e-secret-key",
        }  # fmt: skip
        stack.enter_context(celery_worker(tmp_path, hostname="analysis@test", concurrency=4,
                                          **env))  # fmt: skip
        stack.enter_context(celery_beat(tmp_path, **env))
        yield base_url


def campaign_for(analyzer: str, caller, profile, *, now) -> Campaign:
    contact_list = ContactList.objects.create(name=f"{analyzer} list")
    for phone in CALLEES[analyzer]:
        Contact.objects.create(contact_list=contact_list, consent=True, phone=phone,
                               first_name="Ada", timezone=daytime_zone(now))  # fmt: skip
    campaign = Campaign.objects.create(
        name=f"Renewals ({analyzer})", agent_profile=profile, max_attempts=1,
        max_calls_per_minute=600, analyzer=analyzer, analysis_fields=PLAN,
        success_criterion="wants the details", **EVERY_DAY,
    )  # fmt: skip
    campaign.contact_lists.add(contact_list)
    campaign.caller_ids.add(caller)
    return campaign


def test_calls_are_analysed_by_both_analyzers_and_the_results_export(
    stack, caller_number, agent_profile, clock, crm_receiver, admin_client, api_client
):
    subscription = WebhookSubscription.objects.create(
        name="CRM", url=crm_receiver.url, event_types=["call.analyzed"]
    )
    campaigns = {name: campaign_for(name, caller_number, agent_profile, now=clock.now())
                 for name in CALLEES}  # fmt: skip
    for campaign in campaigns.values():
        campaign_start(campaign=campaign)

    analyses = wait_for(
        lambda: (found := list(CallAnalysis.objects.select_related("call"))) and len(found) == 4
        and found,
        timeout=120, message="the four calls to be analysed",
    )  # fmt: skip
    by_number = {analysis.call.to_number: analysis for analysis in analyses}
    for analyzer, (interested, opted_out) in CALLEES.items():
        liked, refused = by_number[interested], by_number[opted_out]
        assert (liked.analyzer, refused.analyzer) == (analyzer, analyzer)
        assert (liked.disposition, liked.success) == ("interested", True)
        assert liked.fields == {"wants_details": True, "plan": None}
        assert (refused.disposition, refused.opt_out) == ("do_not_call", True)
        assert DoNotCall.objects.get(phone=opted_out).call_id == refused.call_id
        if analyzer == "llm":
            assert liked.token_usage["total_tokens"] > 0

    # the admin
    listed = admin_client.get(reverse("admin:analysis_callanalysis_changelist")).content.decode()
    assert listed.count("do_not_call") >= 2 and "+14155558060" in listed
    # the API
    detail = api_client.get(f"/api/v1/calls/{by_number['+14155558060'].call_id}/").json()
    assert detail["analysis"]["disposition"] == "interested"
    assert detail["analysis"]["fields"]["wants_details"] is True
    # the CRM: four signed call.analyzed deliveries
    wait_for(lambda: len(crm_receiver.received) >= 4, timeout=30,
             message="the call.analyzed deliveries")  # fmt: skip
    events = [verified(body, headers, subscription.secret)
              for body, headers in crm_receiver.received]  # fmt: skip
    assert {event["type"] for event in events} == {"call.analyzed"}
    assert {event["data"]["analysis"]["disposition"] for event in events} == {
        "interested", "do_not_call",
    }  # fmt: skip

    # the finished campaign's results
    finished = campaigns["llm"]
    wait_for(lambda: Campaign.objects.get(pk=finished.pk).status == Campaign.Status.COMPLETED,
             timeout=60, message="the campaign to complete")  # fmt: skip
    answer = api_client.get(f"/api/v1/campaigns/{finished.pk}/results.csv")
    assert answer.status_code == 200
    rows = list(csv.DictReader(io.StringIO(b"".join(answer.streaming_content).decode())))
    assert sorted(row["phone"] for row in rows) == sorted(CALLEES["llm"])
    assert {"field:wants_details", "field:plan"} <= set(rows[0])
    exported = {row["phone"]: row for row in rows}
    assert exported["+14155558060"]["field:wants_details"] == "True"
    assert exported["+14155557060"]["disposition"] == "do_not_call"
    assert exported["+14155557060"]["do_not_call"] == "True"
    assert "sk-e2e-secret-key" not in json.dumps(events)
