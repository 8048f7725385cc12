"""The analysis plan: fields to extract (a table in the admin, a JSON schema in the database and
the API), the success outcomes and criterion, the campaign's analyzer and LLM budget."""

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import httpx
import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from analysis.builtin import analyze
from analysis.plan import Plan
from analysis.services import call_analyze, use_llm_transport
from campaigns.models import Campaign
from telephony.analysis_fields import FieldSpec, check_fields, fields_of, schema_of
from telephony.models import AgentProfile, Call
from telephony.simulator import sim_transport
from tests.analysis.test_services import ended_campaign_call
from tests.support.factories import CallFactory

NEW_YORK = ZoneInfo("America/New_York")
WEDNESDAY_1PM = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)  # 13:00 in New York
SPECS = [
    FieldSpec("budget", "number", "their monthly budget in dollars"),
    FieldSpec("has_insurance", "boolean", "whether they have insurance now"),
    FieldSpec("visit_day", "date", "the day they want the visit"),
    FieldSpec("plan", "enum", "the plan they chose", ("basic", "premium")),
    FieldSpec("email", "string", "their e-mail address"),
]
SCHEMA = schema_of(SPECS)


class Recording(httpx.BaseTransport):
    """Keeps each request, then sends it on."""

    def __init__(self, transport: httpx.BaseTransport, sent: list) -> None:
        self.transport, self.sent = transport, sent

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.sent.append(request)
        return self.transport.handle_request(request)


# -- the table and its schema -------------------------------------------------------------------


def test_a_table_becomes_a_schema_and_back():
    assert fields_of(SCHEMA) == SPECS
    assert SCHEMA["properties"]["visit_day"] == {
        "description": "the day they want the visit", "type": ["string", "null"],
        "format": "date",
    }  # fmt: skip
    assert SCHEMA["properties"]["plan"]["enum"] == ["basic", "premium", None]
    assert schema_of([]) == {} and fields_of({}) == []


@pytest.mark.parametrize(
    "schema,words",
    [
        ({"type": "array"}, 'a JSON schema: {"type": "object"'),
        ({"type": "object", "properties": {"x": {"type": "integer"}}}, "'x': the type is one of"),
        ({"type": "object", "properties": {"Bad Name": {"type": "string"}}}, "'Bad Name'"),
        ({"type": "object", "properties": {"p": {"type": "string", "enum": [1, 2]}}}, "text"),
    ],
)
def test_a_schema_the_table_cannot_show_is_refused_with_what_is_wrong(schema, words):
    with pytest.raises(ValidationError) as refused:
        fields_of(schema)
    assert words in " ".join(refused.value.messages)


def test_an_enum_needs_its_choices_and_names_are_unique():
    with pytest.raises(ValidationError) as refused:
        schema_of([FieldSpec("plan", "enum"), FieldSpec("plan", "string")])
    assert "an enum lists its choices" in str(refused.value)
    assert "Each field is named once: plan" in str(refused.value)


def test_extracted_values_are_checked_against_the_schema():
    clean, problems = check_fields(SCHEMA, {
        "budget": "a lot", "has_insurance": True, "visit_day": "2026-13-40", "plan": "gold",
        "email": "ada@example.com", "unknown": 1,
    })  # fmt: skip
    assert clean == {"budget": None, "has_insurance": True, "visit_day": None, "plan": None,
                     "email": "ada@example.com"}  # fmt: skip
    assert [problem.split(":")[0] for problem in problems] == ["budget", "visit_day", "plan"]
    assert check_fields(SCHEMA, {"budget": True})[0]["budget"] is None  # a boolean is no number


# -- the built-in analyzer reads them -----------------------------------------------------------


def test_the_builtin_analyzer_reads_each_type_from_the_answers():
    transcript = [
        {"role": "assistant", "content": "Do you have insurance at the moment?"},
        {"role": "user", "content": "Yes, with Acme Health."},
        {"role": "assistant", "content": "What monthly budget do you have in mind?"},
        {"role": "user", "content": "Around 1,200 dollars."},
        {"role": "assistant", "content": "Which day suits you for the visit?"},
        {"role": "user", "content": "Next Tuesday works."},
        {"role": "assistant", "content": "Basic or premium?"},
        {"role": "user", "content": "Basic. No wait, premium. Write to ada.l@example.com."},
    ]
    result = analyze(transcript, dispositions=["interested", "not_interested"],
                     fields_schema=SCHEMA, zone=NEW_YORK, started_at=WEDNESDAY_1PM)  # fmt: skip
    assert result.fields == {"budget": 1200, "has_insurance": True, "visit_day": "2026-12-01",
                             "plan": "premium", "email": "ada.l@example.com"}  # fmt: skip
    silent = analyze([{"role": "user", "content": "Hello?"}], dispositions=["interested"],
                     fields_schema=SCHEMA)  # fmt: skip
    assert set(silent.fields.values()) == {None}


# -- the plan an ended call follows -------------------------------------------------------------


@pytest.mark.django_db
def test_a_campaign_call_follows_its_campaigns_plan_and_the_agents_fields_win():
    entry, call = ended_campaign_call("No, we have none.", "Premium, please.")
    Campaign.objects.filter(pk=entry.campaign_id).update(
        analysis_fields=SCHEMA, outcomes=["interested", "booked", "not_interested"],
        success_outcomes=["interested", "booked"],
    )  # fmt: skip
    call.transcript[0]["content"] = "Hi Ada, do you have insurance?"
    call.outcome, call.outcome_fields = "booked", {"plan": "basic", "note": "VIP", "budget": "x"}
    call.save()
    analysis = call_analyze(call_id=call.pk)
    assert (analysis.disposition, analysis.success) == ("booked", True)
    # the agent's "basic" holds and wins; its "x" budget does not hold; its note is kept
    assert analysis.fields == {"budget": None, "has_insurance": False, "visit_day": None,
                               "plan": "basic", "email": None, "note": "VIP"}  # fmt: skip


@pytest.mark.django_db
def test_a_single_call_follows_its_agent_profiles_fields(agent_profile):
    agent_profile.analysis_fields = schema_of(
        [FieldSpec("has_insurance", "boolean", "whether they have insurance")]
    )
    agent_profile.save()  # fmt: skip
    call = CallFactory(agent_profile=agent_profile, status="completed", transcript=[
        {"role": "assistant", "content": "Do you have insurance?"},
        {"role": "user", "content": "No, not yet."},
    ])  # fmt: skip
    assert call_analyze(call_id=call.pk).fields == {"has_insurance": False}


@pytest.mark.django_db
def test_the_campaigns_analyzer_and_its_own_hourly_budget(settings, simulator):
    settings.ANALYSIS_ANALYZER = "builtin"
    settings.ANALYSIS_LLM_URL = "http://simulator.test/llm/v1"
    settings.ANALYSIS_LLM_PER_HOUR = 100
    entry, call = ended_campaign_call("Yes.", "Premium, sign me up.")
    Campaign.objects.filter(pk=entry.campaign_id).update(
        analyzer="llm", analysis_fields=SCHEMA, success_criterion="chose a plan"
    )
    sent = []
    with use_llm_transport(Recording(sim_transport(simulator), sent)):
        analysis = call_analyze(call_id=call.pk)
    assert (analysis.analyzer, analysis.disposition, analysis.fields["plan"]) == (
        "llm", "interested", "premium",
    )  # fmt: skip
    asked = json.loads(json.loads(sent[-1].content)["messages"][1]["content"])
    assert asked["success_criterion"] == "chose a plan"
    assert asked["fields_schema"] == SCHEMA

    Campaign.objects.filter(pk=entry.campaign_id).update(llm_analyses_per_hour=1)
    with use_llm_transport(sim_transport(simulator)):
        again = call_analyze(call_id=call.pk)
    assert again.analyzer == "builtin"
    assert (
        again.reasons[0] == "the LLM was not used: the campaign's budget is 1 LLM analyses an hour"
    )


def test_a_plan_file_is_read_with_what_is_wrong_said():
    plan = Plan.from_json({"dispositions": ["booked", "lost"], "fields": SCHEMA})
    assert plan.success_dispositions == frozenset() and plan.field_names[0] == "budget"
    with pytest.raises(ValueError, match="'success_dispositions' must be among"):
        Plan.from_json({"dispositions": ["booked"], "success_dispositions": ["won"]})
    with pytest.raises(ValueError, match="plan: Analysis field 'x'"):
        Plan.from_json({"fields": {"type": "object", "properties": {"x": {"type": "integer"}}}})


# -- where staff and CRMs edit it ---------------------------------------------------------------


@pytest.mark.django_db
def test_the_campaign_form_edits_the_fields_as_a_table_even_while_running(admin_client):
    from tests.support.factories import CampaignFactory

    campaign = CampaignFactory(status=Campaign.Status.RUNNING)
    url = reverse("admin:campaigns_campaign_change", args=[campaign.pk])
    page = admin_client.get(url).content.decode()
    assert (
        'name="analysis_fields-0-name"' in page and 'name="analysis_fields-rows" value="3"' in page
    )
    rows = {"analysis_fields-rows": "3", "analysis_fields-0-name": "plan",
            "analysis_fields-0-type": "enum", "analysis_fields-0-description": "chosen plan",
            "analysis_fields-0-choices": "basic, premium",
            "analysis_fields-1-name": "", "analysis_fields-1-type": "string",
            "analysis_fields-2-name": "", "analysis_fields-2-type": "string"}  # fmt: skip
    form = {"name": campaign.name, "outcomes": json.dumps(campaign.outcomes),
            "success_outcomes": '["interested"]', "success_criterion": "chose a plan",
            "analyzer": "llm", "llm_analyses_per_hour": "20", **rows}  # fmt: skip
    saved = admin_client.post(url, form)
    assert saved.status_code == 302, saved.content.decode()[:3000]
    campaign.refresh_from_db()
    assert fields_of(campaign.analysis_fields) == [
        FieldSpec("plan", "enum", "chosen plan", ("basic", "premium"))
    ]
    assert (campaign.analyzer, campaign.llm_analyses_per_hour) == ("llm", 20)
    assert 'value="basic, premium"' in admin_client.get(url).content.decode()

    refused = admin_client.post(url, form | {"analysis_fields-0-choices": "",
                                             "success_outcomes": '["won"]'})  # fmt: skip
    page = refused.content.decode()
    assert refused.status_code == 200
    assert "an enum lists its choices" in page
    assert "Not among the outcomes: won." in page
    assert 'name="analysis_fields-0-name" value="plan"' in page  # the rows come back as typed


@pytest.mark.django_db
def test_the_agent_profile_form_edits_its_single_calls_fields(admin_client, agent_profile):
    url = reverse("admin:telephony_agentprofile_change", args=[agent_profile.pk])
    page = admin_client.get(url).content.decode()
    assert "After a single call" in page and 'name="analysis_fields-0-type"' in page


@pytest.mark.django_db
def test_the_api_takes_the_plan_and_refuses_what_is_wrong(api_client, agent_profile):
    from tests.support.factories import CampaignFactory

    campaign = CampaignFactory(status=Campaign.Status.RUNNING, agent_profile=agent_profile)
    url = f"/api/v1/campaigns/{campaign.pk}/"
    changed = api_client.patch(url, {"analysis_fields": SCHEMA, "success_criterion": "booked"},
                               format="json")  # fmt: skip
    assert changed.status_code == 200, changed.json()
    assert changed.json()["analysis_fields"] == SCHEMA
    wrong = api_client.patch(
        url, {"analysis_fields": {"type": "object", "properties": {"n": {"type": "int"}}}},
        format="json",
    )  # fmt: skip
    assert wrong.status_code == 400
    assert "'n': the type is one of" in json.dumps(wrong.json()["error"]["fields"])
    not_an_outcome = api_client.patch(url, {"success_outcomes": ["won"]}, format="json")
    assert not_an_outcome.status_code == 400
    assert "won" in json.dumps(not_an_outcome.json()["error"])
    assert AgentProfile.objects.filter(pk=agent_profile.pk).exists()


@pytest.mark.django_db
def test_the_agents_api_takes_its_single_calls_fields(api_client, agent_profile):
    url = f"/api/v1/agents/{agent_profile.pk}/"
    changed = api_client.patch(url, {"analysis_fields": SCHEMA}, format="json")
    assert changed.status_code == 200, changed.json()
    assert changed.json()["analysis_fields"] == SCHEMA
    wrong = api_client.patch(url, {"analysis_fields": {"type": "array"}}, format="json")
    assert wrong.status_code == 400
    agent_profile.refresh_from_db()
    assert agent_profile.analysis_fields == SCHEMA


@pytest.mark.django_db
def test_a_single_call_records_and_is_analysed_with_its_agent_profiles_outcomes(agent_profile):
    from contactcenter.agent_tools.services import ToolFailure, tool_call

    agent_profile.outcomes, agent_profile.success_outcomes = ["booked", "lost"], ["booked"]
    agent_profile.save()
    call = CallFactory(agent_profile=agent_profile, status="answered", answered_at=timezone.now(),
                       transcript=[
        {"role": "assistant", "content": "Shall I book you in?"},
        {"role": "user", "content": "Yes, book me for Tuesday."},
    ])  # fmt: skip
    with pytest.raises(ToolFailure, match="use one of: booked, lost"):
        tool_call(call=call, tool="record_outcome", arguments={"outcome": "interested"})
    tool_call(call=call, tool="record_outcome", arguments={"outcome": "booked"})
    Call.objects.filter(pk=call.pk).update(status="completed")
    analysis = call_analyze(call_id=call.pk)
    assert (analysis.disposition, analysis.success) == ("booked", True)

    agent_profile.success_outcomes = ["won"]
    with pytest.raises(ValidationError, match="Not among the outcomes: won"):
        agent_profile.full_clean()
