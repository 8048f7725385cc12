"""Analysing an ended call (analysis.services.call_analyze): the plan's disposition, the agent's
recorded outcome first, and the effects through the same services as the in-call tools."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from analysis.models import CallAnalysis
from analysis.receivers import analyze_ended_call
from analysis.services import call_analyze
from campaigns.models import CampaignAttempt, CampaignContact, DoNotCall
from campaigns.services.campaigns import campaign_start
from telephony.states import CallStatus
from tests.support.factories import (
    CallFactory,
    CampaignFactory,
    ContactFactory,
    ContactListFactory,
    PhoneNumberFactory,
)

pytestmark = pytest.mark.django_db
CS = CampaignContact.Status
PHONE = "+14155550150"  # Los Angeles: the pinned clock reads Wednesday 10:00 there


def ended_campaign_call(*callee_turns: str, status=CallStatus.COMPLETED, **call_fields):
    contact_list = ContactListFactory()
    contact = ContactFactory(contact_list=contact_list, phone=PHONE, first_name="Ada")
    campaign = CampaignFactory(contact_lists=[contact_list], caller_ids=[PhoneNumberFactory()])
    campaign_start(campaign=campaign)
    entry = campaign.contacts.get(contact=contact)
    transcript = [{"role": "assistant", "content": "Hi Ada, this is Acme about your plan."}]
    for words in callee_turns:
        transcript += [{"role": "user", "content": words},
                       {"role": "assistant", "content": "Thank you."}]  # fmt: skip
    now = timezone.now()
    call = CallFactory(
        to_number=PHONE, status=status, answered_at=now - timedelta(minutes=2), ended_at=now,
        transcript=transcript, **call_fields,
    )  # fmt: skip
    CampaignAttempt.objects.create(campaign_contact=entry, campaign=campaign, call=call, number=1)
    entry.status, entry.attempts, entry.last_call = CS.COMPLETED, 1, call
    entry.save()
    return entry, call


def test_a_callback_asked_for_in_words_is_scheduled_once():
    entry, call = ended_campaign_call("Yes, speaking.", "I'm busy, call me back tomorrow at 3 pm.")
    analysis = call_analyze(call_id=call.pk)
    assert (analysis.disposition, analysis.disposition_source) == ("callback_requested", "analyzer")
    assert analysis.callback_at.isoformat() == "2026-11-26T15:00:00-08:00"
    entry.refresh_from_db()
    assert (entry.status, entry.callbacks) == (CS.CALLBACK_SCHEDULED, 1)
    assert analysis.effects[0].startswith("Callback scheduled for Thursday 26 November 2026")

    again = call_analyze(call_id=call.pk)  # re-run: replaced, no second callback
    entry.refresh_from_db()
    assert entry.callbacks == 1 and again.effects == []
    assert CallAnalysis.objects.count() == 1


def test_an_opt_out_in_words_blocks_the_number_with_the_call_as_its_source():
    _, call = ended_campaign_call("Yes.", "Please take me off your list.")
    analysis = call_analyze(call_id=call.pk)
    assert (analysis.disposition, analysis.opt_out) == ("do_not_call", True)
    blocked = DoNotCall.objects.get(phone=PHONE)
    assert (blocked.source, blocked.call_id) == ("call", call.pk)
    assert analysis.effects == ["added to the do-not-call list"]


def test_the_outcome_the_agent_recorded_wins_and_the_analysis_fills_the_rest():
    _, call = ended_campaign_call(
        "Yes.", "That sounds great, sign me up.",
        outcome="not_interested", outcome_fields={"plan": "none"},
    )  # fmt: skip
    analysis = call_analyze(call_id=call.pk)
    assert (analysis.disposition, analysis.disposition_source) == ("not_interested", "agent")
    assert analysis.success is False and analysis.fields == {"plan": "none"}
    assert "sign me up" in analysis.summary
    assert analysis.analyzer == "builtin"


def test_only_ended_calls_are_analysed_and_only_conversations_are_queued(monkeypatch, settings):
    live = CallFactory(status=CallStatus.ANSWERED, answered_at=timezone.now())
    with pytest.raises(ValidationError, match="Only an ended call"):
        call_analyze(call_id=live.pk)

    from analysis import tasks

    queued = []
    monkeypatch.setattr(tasks.analyze_call, "apply_async",
                        lambda args, countdown: queued.append((args, countdown)))  # fmt: skip
    settings.CALL_ANALYSIS_DELAY_SECONDS = 20
    analyze_ended_call(sender=None, call_id=live.pk, status=CallStatus.COMPLETED)
    analyze_ended_call(sender=None, call_id=live.pk, status=CallStatus.NO_ANSWER)
    assert queued == [((str(live.pk),), 20)]

    # In a webhook drain's batch, queued once the batch's refills are done
    from contactcenter.batches import after_batch, within_batch

    with within_batch():
        analyze_ended_call(sender=None, call_id=live.pk, status=CallStatus.COMPLETED)
        after_batch("refill", lambda: queued.append("refill"))
        assert len(queued) == 1
    assert queued[1:] == ["refill", ((str(live.pk),), 20)]


def test_the_api_shows_the_analysis_filters_by_disposition_and_crms_hear_of_it(
    api_client, django_capture_on_commit_callbacks
):
    from contactcenter.crm_webhooks.models import WebhookDelivery, WebhookSubscription

    WebhookSubscription.objects.create(
        name="CRM", url="https://crm.example/hook", event_types=["call.analyzed"]
    )
    _, call = ended_campaign_call("Yes.", "Please take me off your list.")
    with django_capture_on_commit_callbacks(execute=True):
        call_analyze(call_id=call.pk)

    detail = api_client.get(f"/api/v1/calls/{call.pk}/").json()
    assert detail["analysis"]["disposition"] == "do_not_call"
    assert detail["analysis"]["opt_out"] is True
    listed = api_client.get("/api/v1/calls/", {"disposition": "do_not_call"}).json()
    assert [row["id"] for row in listed["results"]] == [str(call.pk)]
    assert api_client.get("/api/v1/calls/", {"disposition": "interested"}).json()["results"] == []

    delivery = WebhookDelivery.objects.get(event_type="call.analyzed")
    data = delivery.payload["data"]
    assert data["call"]["id"] == str(call.pk)
    assert (data["analysis"]["disposition"], data["analysis"]["analyzer"]) == (
        "do_not_call",
        "builtin",
    )


def test_a_campaigns_results_one_row_per_contact_as_csv_and_json_lines(api_client):
    import csv
    import io
    import json

    entry, call = ended_campaign_call("Yes.", "Sounds great, sign me up.",
                                      outcome_fields={"plan": "=basic"})  # fmt: skip
    entry.contact.variables = {"city": "Oakland"}
    entry.contact.save()
    call_analyze(call_id=call.pk)
    campaign = entry.campaign

    answer = api_client.get(f"/api/v1/campaigns/{campaign.pk}/results.csv")
    assert answer.status_code == 200, answer.content
    assert answer["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(answer.streaming_content).decode())))
    assert len(rows) == 1
    row = rows[0]
    assert (row["phone"], row["var:city"], row["status"], row["disposition"]) == (
        PHONE, "Oakland", "completed", "interested",
    )  # fmt: skip
    assert row["field:plan"] == "'=basic"  # a spreadsheet must not run it
    assert row["do_not_call"] == "False"

    lines = api_client.get(f"/api/v1/campaigns/{campaign.pk}/results.jsonl")
    records = [json.loads(line) for line in b"".join(lines.streaming_content).splitlines()]
    assert records[0]["field:plan"] == "=basic" and records[0]["success"] is True
    assert api_client.get("/api/v1/campaigns/999999/results.csv").status_code == 404


def test_staff_export_the_results_from_the_campaign_page(admin_client):
    entry, _ = ended_campaign_call("Yes.", "Sign me up.")
    page = admin_client.get(f"/admin/campaigns/campaign/{entry.campaign_id}/change/")
    link = f"/api/v1/campaigns/{entry.campaign_id}/results.csv"
    assert f'href="{link}"' in page.content.decode()
    answer = admin_client.get(link)  # a staff login is enough for the API's reads
    assert answer.status_code == 200
    assert b"".join(answer.streaming_content).decode().startswith("phone,first_name")


def test_a_final_disposition_ends_the_retries_of_its_contact():
    entry, call = ended_campaign_call("Yes.", "Wrong number, there's no Ada here.",
                                      status=CallStatus.VOICEMAIL)  # fmt: skip
    entry.status = CS.RETRY_SCHEDULED
    entry.save()
    analysis = call_analyze(call_id=call.pk)
    entry.refresh_from_db()
    assert (entry.status, analysis.disposition) == (CS.INVALID, "wrong_number")
    assert "retries ended" in analysis.effects[-1]


def test_the_campaign_page_shows_its_dispositions_and_success_rate(admin_client):
    entry, call = ended_campaign_call("Yes.", "Sounds great, sign me up.")
    call_analyze(call_id=call.pk)
    html = admin_client.get(f"/admin/campaigns/campaign/{entry.campaign_id}/change/").content
    page = html.decode()
    assert "Analysed calls by disposition" in page
    assert '<td class="n" data-breakdown="interested">1</td>' in page
    assert '<td class="n" data-breakdown="success_rate">100%</td>' in page


def test_a_contact_whose_last_call_is_not_analysed_exports_empty_analysis_cells(api_client):
    import csv
    import io

    entry, _ = ended_campaign_call("Yes.", "Sign me up.")  # ended, not analysed yet
    answer = api_client.get(f"/api/v1/campaigns/{entry.campaign_id}/results.csv")
    (row,) = csv.DictReader(io.StringIO(b"".join(answer.streaming_content).decode()))
    assert (row["status"], row["disposition"], row["summary"]) == ("completed", "", "")
    assert row["last_call_id"] == str(entry.last_call_id)


def test_the_api_queues_an_ended_call_for_analysis_again(
    api_client, monkeypatch, django_capture_on_commit_callbacks
):
    from analysis import tasks

    queued = []
    monkeypatch.setattr(tasks.analyze_call, "apply_async", lambda args: queued.append(args))
    _, call = ended_campaign_call("Yes.", "Sign me up.")
    with django_capture_on_commit_callbacks(execute=True):
        answer = api_client.post(f"/api/v1/calls/{call.pk}/analyze/")
    assert answer.status_code == 202 and answer.json()["result"] == "queued"
    assert queued == [(str(call.pk),)]

    live = CallFactory(status=CallStatus.ANSWERED, answered_at=timezone.now())
    refused = api_client.post(f"/api/v1/calls/{live.pk}/analyze/")
    assert refused.status_code == 400
    assert "Only an ended call" in refused.json()["error"]["message"]
    assert queued == [(str(call.pk),)]
    assert api_client.post("/api/v1/calls/00000000-0000-0000-0000-000000000000/analyze/"
                           ).status_code == 404  # fmt: skip


def test_the_analysis_waits_for_the_whole_transcript_but_not_forever(monkeypatch, settings,
                                                                     clock):  # fmt: skip
    """Agora's end-of-call history may be processed after the hang-up that queued the analysis:
    the task looks again until it has arrived, or nothing more can come, or the wait is over."""
    from analysis import tasks
    from analysis.services import TRANSCRIPT_RECHECK_SECONDS, transcript_wait_seconds
    from telephony.models import CallEvent

    settings.CALL_ANALYSIS_TRANSCRIPT_WAIT_SECONDS = 60
    _, call = ended_campaign_call("Yes, send me the details.")  # ended at the clock's now
    now = call.ended_at
    CallEvent.objects.create(call=call, source=CallEvent.Source.WEBHOOK, kind="state",
                             detail="HANGUP")  # fmt: skip
    assert transcript_wait_seconds(call_id=call.pk, now=now) == TRANSCRIPT_RECHECK_SECONDS
    assert transcript_wait_seconds(call_id=call.pk, now=now + timedelta(seconds=59)) == 1
    assert transcript_wait_seconds(call_id=call.pk, now=now + timedelta(seconds=61)) == 0

    queued = []
    monkeypatch.setattr(tasks.analyze_call, "apply_async",
                        lambda args, countdown: queued.append((args, countdown)))  # fmt: skip
    assert tasks.analyze_call.run(str(call.pk)) == "waiting for the transcript"
    assert queued == [((str(call.pk),), TRANSCRIPT_RECHECK_SECONDS)]
    assert not CallAnalysis.objects.filter(call=call).exists()

    # the history arrived: go now
    call.transcript_final_at = now
    call.save(update_fields=["transcript_final_at"])
    assert transcript_wait_seconds(call_id=call.pk, now=now) == 0
    assert tasks.analyze_call.run(str(call.pk)) == "interested"
    assert len(queued) == 1

    # webhooks off (no notification for this call): once its data was fetched, nothing more comes
    _, polled = ended_campaign_call("No thanks.")
    now = polled.ended_at
    assert transcript_wait_seconds(call_id=polled.pk, now=now) == TRANSCRIPT_RECHECK_SECONDS
    polled.agent_data_fetched_at = now
    polled.save(update_fields=["agent_data_fetched_at"])
    assert transcript_wait_seconds(call_id=polled.pk, now=now) == 0
