"""The campaign admin: progress, controls (actions and buttons), the form, campaign contacts,
and the campaign filter on the call list."""

import json
import re
from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from campaigns.admin.calls import CampaignCallFilter
from campaigns.models import Campaign, CampaignContact, ContactList
from campaigns.services.campaigns import (
    campaign_cancel,
    campaign_pause,
    campaign_progress,
    campaign_record_call_outcome,
    campaign_start,
    campaigns_progress,
)
from campaigns.services.dispatch import dispatch
from telephony.models import Call, CallEvent, PhoneNumber
from telephony.services.calls import call_transition
from telephony.states import CallStatus

pytestmark = pytest.mark.django_db

CS = CampaignContact.Status
CHANGELIST = reverse("admin:campaigns_campaign_changelist")
CONTACTS = reverse("admin:campaigns_campaigncontact_changelist")
CALLS = reverse("admin:telephony_call_changelist")
PROGRESS_MANY = reverse("admin:campaigns_campaign_progress_many")
CONTROLS = ("start", "pause", "resume", "cancel", "cancel_hang_up")


def phones(first: int, count: int, area: str = "415") -> list[str]:
    return [f"+1{area}555{n:04d}" for n in range(first, first + count)]


def end_call(call: Call, status: str) -> None:
    with transaction.atomic():
        locked = Call.objects.select_for_update().get(pk=call.pk)
        if status == CallStatus.COMPLETED:  # only an answered call completes
            call_transition(locked, CallStatus.ANSWERED, source=CallEvent.Source.POLL)
        assert call_transition(locked, status, source=CallEvent.Source.POLL, detail=status)
    campaign_record_call_outcome(call_id=call.pk)


def change_url(campaign: Campaign) -> str:
    return reverse("admin:campaigns_campaign_change", args=[campaign.pk])


def control_url(campaign: Campaign, name: str) -> str:
    return reverse(f"admin:campaigns_campaign_{name}", args=[campaign.pk])


def progress_url(campaign: Campaign) -> str:
    return reverse("admin:campaigns_campaign_progress", args=[campaign.pk])


def page_messages(response) -> list[tuple[str, str]]:
    return [(message.level_tag, str(message)) for message in response.context["messages"]]


def run_action(admin_client, action: str, campaigns: list[Campaign]):
    return admin_client.post(
        CHANGELIST,
        {"action": action, "_selected_action": [str(c.pk) for c in campaigns], "index": 0},
        follow=True,
    )


def status_of(campaign: Campaign) -> str:
    campaign.refresh_from_db()
    return campaign.status


def jsonish(progress: dict) -> dict:
    return json.loads(json.dumps(progress))


@pytest.fixture
def states(make_campaign):
    """A campaign in each of several states; the running one has calls, one of them ended."""
    draft = make_campaign(phones(150, 1), name="Draft one")
    running = make_campaign(phones(160, 3), name="Running one", max_concurrent_calls=2)
    paused = make_campaign(phones(170, 2), name="Paused one")
    cancelled = make_campaign(phones(180, 2), name="Cancelled one")
    for campaign in (running, paused, cancelled):
        campaign_start(campaign=campaign)
    campaign_pause(campaign=paused)
    campaign_cancel(campaign=cancelled)
    dispatch()
    end_call(Call.objects.filter(campaign_attempt__campaign=running).first(), CallStatus.COMPLETED)
    found = {"draft": draft, "running": running, "paused": paused, "cancelled": cancelled}
    for campaign in found.values():
        campaign.refresh_from_db()
    return found


# -- changelist -------------------------------------------------------------------------------


def test_changelist_shows_status_progress_and_live_calls_for_each_campaign(admin_client, states):
    response = admin_client.get(CHANGELIST)

    assert response.status_code == 200
    html = response.content.decode()
    for name, campaign in states.items():
        assert f'data-campaign="{campaign.pk}"' in html, name
    running = states["running"]
    # 1 of 3 contacts done (the completed call), one call still queued
    assert re.search(
        rf'data-campaign="{running.pk}".*?<span data-f="done">1</span> / '
        r'<span data-f="contacts">3</span> done \(<span data-f="percent_done">33.3</span>%\)',
        html,
        re.S,
    )
    assert 'data-outcome="completed" data-source="contact"><i' in html  # shown: not zero
    assert '<span data-f="live_calls">0</span> / <span data-f="max_concurrent_calls">2</span>' in (
        html
    )
    # the cancelled campaign made no call: its two contacts are cancelled, not done
    cancelled = states["cancelled"]
    assert re.search(
        rf'data-campaign="{cancelled.pk}".*?<span data-f="done">0</span> / '
        r'<span data-f="contacts">2</span> done \(<span data-f="percent_done">0.0</span>%\)'
        r'<span class="cp-cancelled" data-when="cancelled">, <span data-f="cancelled">2</span> '
        r"cancelled</span>",
        html,
        re.S,
    )
    # the draft: the contact its list would give it, planned
    assert re.search(
        rf'data-campaign="{states["draft"].pk}".*?<div class="cp-text"><span data-f="contacts">1'
        r"</span> contact planned \(enrolled when the campaign starts\)",
        html,
        re.S,
    )
    assert re.search(  # and a running one with nothing cancelled says nothing of it
        rf'data-campaign="{running.pk}".*?data-when="cancelled" hidden>', html, re.S
    )
    for label in ("Draft", "Running", "Paused", "Cancelled"):
        assert f">{label}</span>" in html
    assert "Local presence" in html or "One number" in html  # caller ID strategy column
    # the polling script and where it polls
    config = response.context["campaign_progress_config"]
    assert config["url"] == PROGRESS_MANY and config["many"] is True
    assert config["interval_ms"] == 2000
    assert set(config["active"]) == {"scheduled", "running", "paused"}
    assert 'id="campaign-progress-config"' in html
    # the page's figures are campaign_progress's, computed in bulk
    for campaign in response.context["cl"].result_list:
        assert campaign._progress == campaign_progress(campaign)


def test_changelist_filters_by_status_and_searches_names(admin_client, states):
    response = admin_client.get(CHANGELIST, {"status__exact": "paused"})
    assert [c.name for c in response.context["cl"].result_list] == ["Paused one"]
    response = admin_client.get(CHANGELIST, {"q": "Running"})
    assert [c.name for c in response.context["cl"].result_list] == ["Running one"]


def test_changelist_query_count_does_not_grow_with_campaigns(admin_client, make_campaign):
    def add(start: int, count: int) -> None:
        for index in range(start, start + count):
            campaign = make_campaign(phones(100 + 3 * index, 3), name=f"Campaign {index}")
            kind = index % 4
            if kind:
                campaign_start(campaign=campaign)
            if kind == 2:
                campaign_pause(campaign=campaign)
            if kind == 3:
                campaign_cancel(campaign=campaign)
        dispatch()
        for call in Call.objects.filter(status=CallStatus.QUEUED)[:2]:
            end_call(call, CallStatus.NO_ANSWER)

    def queries_to_render() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as context:
            response = admin_client.get(CHANGELIST)
        assert response.status_code == 200
        return len(context.captured_queries), len(response.context["cl"].result_list)

    add(0, 2)
    admin_client.get(CHANGELIST)  # warm process-wide caches (content types, sessions)
    few, rows = queries_to_render()
    assert rows == 2
    add(2, 13)
    many, rows = queries_to_render()
    assert rows == 15
    assert Call.objects.count() > 10
    assert many == few


# -- actions ----------------------------------------------------------------------------------


def test_start_action_starts_what_it_can_and_says_why_not_for_the_rest(admin_client, make_campaign):
    good = make_campaign(phones(150, 2), name="Good")
    bad = make_campaign(phones(160, 1), name="No numbers")
    bad.caller_ids.clear()

    response = run_action(admin_client, "start_selected", [good, bad])

    assert response.status_code == 200
    assert status_of(good) == Campaign.Status.RUNNING
    assert good.contacts.count() == 2
    assert status_of(bad) == Campaign.Status.DRAFT
    shown = page_messages(response)
    assert ("success", "“Good” started (now running).") in shown
    [error] = [text for level, text in shown if level == "error"]
    assert error.startswith("“No numbers” was not started:")
    assert "Choose at least one caller ID number." in error


def test_pause_resume_and_cancel_actions(admin_client, make_campaign):
    campaign = make_campaign(phones(150, 3), max_concurrent_calls=1)
    campaign_start(campaign=campaign)

    response = run_action(admin_client, "pause_selected", [campaign])
    assert status_of(campaign) == Campaign.Status.PAUSED
    assert ("success", "“Reminders” paused (now paused); live calls finish normally.") in (
        page_messages(response)
    )

    run_action(admin_client, "resume_selected", [campaign])
    assert status_of(campaign) == Campaign.Status.RUNNING

    dispatch()  # one contact in progress, two pending
    response = run_action(admin_client, "cancel_selected", [campaign])
    assert status_of(campaign) == Campaign.Status.CANCELLED
    statuses = sorted(campaign.contacts.values_list("status", flat=True))
    assert statuses == [CS.CANCELLED, CS.CANCELLED, CS.IN_PROGRESS]  # the live call finishes
    assert page_messages(response)[0][0] == "success"


def test_an_action_the_status_forbids_is_an_error_message_not_a_500(admin_client, make_campaign):
    draft = make_campaign()

    response = run_action(admin_client, "pause_selected", [draft])

    assert response.status_code == 200
    assert page_messages(response) == [
        ("error", "“Reminders” was not paused: A draft campaign cannot become paused.")
    ]
    assert status_of(draft) == Campaign.Status.DRAFT


def test_cancel_and_hang_up_action_cancels_contacts_and_queues_the_hang_up(
    admin_client, make_campaign, django_capture_on_commit_callbacks
):
    campaign = make_campaign(phones(150, 3), max_concurrent_calls=1)
    campaign_start(campaign=campaign)
    dispatch()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = run_action(admin_client, "cancel_and_hang_up_selected", [campaign])

    assert status_of(campaign) == Campaign.Status.CANCELLED
    assert campaign.contacts.filter(status=CS.CANCELLED).count() == 2
    assert len(callbacks) == 1  # campaigns.hang_up_campaign_calls, after the commit
    [(level, text)] = page_messages(response)
    assert level == "success" and "live calls are being hung up" in text


# -- buttons on the change page ---------------------------------------------------------------


def test_the_change_page_shows_the_buttons_the_status_allows_each_confirmed(
    admin_client, make_campaign
):
    campaign = make_campaign()
    html = admin_client.get(change_url(campaign)).content.decode()
    # Start opens its confirmation page (tests/campaigns/test_waiting.py); the others confirm
    # in the browser
    assert f'href="{control_url(campaign, "start")}" id="campaign-start-link"' in html
    assert 'id="campaign-cancel-form"' in html
    assert 'id="campaign-pause-form"' not in html
    assert 'id="campaign-cancel_hang_up-form"' not in html
    assert f'action="{control_url(campaign, "cancel")}"' in html
    assert 'onsubmit="return window.confirm(this.dataset.confirm);"' in html
    assert "csrfmiddlewaretoken" in html

    campaign_start(campaign=campaign)
    html = admin_client.get(change_url(campaign)).content.decode()
    for shown in ("pause", "cancel", "cancel_hang_up"):
        assert f'id="campaign-{shown}-form"' in html
    assert 'id="campaign-start-link"' not in html
    assert 'id="campaign-resume-form"' not in html


def test_start_button_starts_a_startable_campaign(admin_client, make_campaign):
    campaign = make_campaign(phones(150, 2))

    response = admin_client.post(control_url(campaign, "start"))

    assert response.status_code == 302
    assert response["Location"] == change_url(campaign)
    assert status_of(campaign) == Campaign.Status.RUNNING
    assert campaign.contacts.count() == 2
    followed = admin_client.get(response["Location"])
    assert ("success", "“Reminders” started (now running).") in page_messages(followed)


def test_start_button_refused_shows_the_specific_problem(admin_client, make_campaign):
    campaign = make_campaign(weekdays=[])

    response = admin_client.post(control_url(campaign, "start"), follow=True)

    assert response.status_code == 200
    assert status_of(campaign) == Campaign.Status.DRAFT
    [(level, text)] = page_messages(response)
    assert level == "error"
    assert "Choose at least one weekday for calls." in text


def test_pause_resume_cancel_buttons(admin_client, make_campaign):
    campaign = make_campaign(phones(150, 2))
    campaign_start(campaign=campaign)

    admin_client.post(control_url(campaign, "pause"))
    assert status_of(campaign) == Campaign.Status.PAUSED
    admin_client.post(control_url(campaign, "resume"))
    assert status_of(campaign) == Campaign.Status.RUNNING
    response = admin_client.post(control_url(campaign, "cancel"), follow=True)
    assert status_of(campaign) == Campaign.Status.CANCELLED
    assert set(campaign.contacts.values_list("status", flat=True)) == {CS.CANCELLED}
    assert page_messages(response)[0][0] == "success"
    # once cancelled, nothing can resume it: an error message, not a 500
    response = admin_client.post(control_url(campaign, "resume"), follow=True)
    assert page_messages(response) == [
        ("error", "“Reminders” was not resumed: A cancelled campaign cannot become running.")
    ]


def test_cancel_and_hang_up_button_marks_pending_contacts_cancelled(
    admin_client, make_campaign, django_capture_on_commit_callbacks
):
    campaign = make_campaign(phones(150, 3), max_concurrent_calls=1)
    campaign_start(campaign=campaign)
    dispatch()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = admin_client.post(control_url(campaign, "cancel_hang_up"))

    assert response.status_code == 302
    assert status_of(campaign) == Campaign.Status.CANCELLED
    assert sorted(campaign.contacts.values_list("status", flat=True)) == [
        CS.CANCELLED,
        CS.CANCELLED,
        CS.IN_PROGRESS,
    ]
    assert len(callbacks) == 1


@pytest.mark.parametrize("name", [name for name in CONTROLS if name != "start"])
def test_button_urls_refuse_get(admin_client, make_campaign, name):
    campaign = make_campaign()

    response = admin_client.get(control_url(campaign, name))

    assert response.status_code == 405
    assert status_of(campaign) == Campaign.Status.DRAFT


def test_button_urls_need_the_csrf_token(admin_user, make_campaign):
    campaign = make_campaign()
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)

    response = client.post(control_url(campaign, "start"))

    assert response.status_code == 403
    assert status_of(campaign) == Campaign.Status.DRAFT


def test_button_urls_need_a_staff_user(client, make_campaign):
    campaign = make_campaign()
    user = get_user_model().objects.create_user("clerk", password="pw-123456789")
    client.force_login(user)

    response = client.post(control_url(campaign, "start"))

    assert response.status_code == 302
    assert "/login/" in response["Location"]
    assert status_of(campaign) == Campaign.Status.DRAFT


# -- progress ---------------------------------------------------------------------------------


def test_progress_json_counts_match_after_dispatching(admin_client, make_campaign):
    campaign = make_campaign(phones(150, 3), max_concurrent_calls=2, max_attempts=1)
    campaign = campaign_start(campaign=campaign)
    dispatch()
    first, _second = Call.objects.filter(campaign_attempt__campaign=campaign).order_by("to_number")
    end_call(first, CallStatus.BUSY)

    response = admin_client.get(progress_url(campaign))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body == jsonish(campaign_progress(campaign))
    assert body["contacts"] == 3
    assert body["dialed"] == 2
    assert body["done"] == 1 and body["remaining"] == 2
    assert body["percent_done"] == 33.3
    assert body["by_contact_status"] == {"exhausted": 1, "in_progress": 1, "pending": 1}
    assert body["calls_by_status"] == {"busy": 1, "queued": 1}
    assert body["calls"] == 2 and body["live_calls"] == 0
    assert body["max_concurrent_calls"] == 2
    assert body["status"] == "running"


def test_progress_json_for_several_campaigns(admin_client, states):
    wanted = [states["running"], states["draft"], states["cancelled"]]

    response = admin_client.get(PROGRESS_MANY, {"ids": ",".join(str(c.pk) for c in wanted)})

    assert response.status_code == 200
    body = response.json()["campaigns"]
    assert [item["campaign"] for item in body] == [c.pk for c in wanted]
    for item, campaign in zip(body, wanted, strict=True):
        assert item == jsonish(campaign_progress(campaign))
    assert admin_client.get(PROGRESS_MANY, {"ids": "1,x"}).status_code == 400
    assert admin_client.get(PROGRESS_MANY, {"ids": "999999"}).json() == {"campaigns": []}


def test_bulk_progress_matches_the_service_for_every_campaign(states):
    bulk = campaigns_progress(Campaign.objects.all())
    for campaign in Campaign.objects.all():
        assert bulk[campaign.pk] == campaign_progress(campaign)


def test_progress_json_is_for_staff_only_and_get_only(client, admin_client, make_campaign):
    campaign = make_campaign()
    assert admin_client.post(progress_url(campaign)).status_code == 405
    assert admin_client.get(progress_url(campaign)).status_code == 200

    for url in (progress_url(campaign), f"{PROGRESS_MANY}?ids={campaign.pk}"):
        response = client.get(url)  # anonymous
        assert response.status_code == 302 and "/login/" in response["Location"]
    user = get_user_model().objects.create_user("clerk", password="pw-123456789")
    client.force_login(user)  # active but not staff
    assert client.get(progress_url(campaign)).status_code == 302


# -- the change page --------------------------------------------------------------------------


def test_change_page_shows_breakdown_and_the_last_calls(admin_client, make_campaign):
    campaign = make_campaign(phones(150, 3), max_concurrent_calls=3)
    campaign_start(campaign=campaign)
    dispatch()
    calls = list(Call.objects.filter(campaign_attempt__campaign=campaign))
    end_call(calls[0], CallStatus.COMPLETED)
    end_call(calls[1], CallStatus.NO_ANSWER)

    response = admin_client.get(change_url(campaign))

    assert response.status_code == 200
    html = response.content.decode()
    breakdown = html[html.index('id="campaign-breakdown"') : html.index('id="campaign-recent')]
    assert 'data-contact-status="completed">1<' in breakdown
    assert 'data-contact-status="retry_scheduled">1<' in breakdown
    assert 'data-contact-status="in_progress">1<' in breakdown
    assert 'data-call-status="no_answer">1<' in breakdown
    assert 'data-call-status="queued">1<' in breakdown
    recent = html[html.index('id="campaign-recent-calls"') :]
    for call in calls:
        assert reverse("admin:telephony_call_change", args=[call.pk]) in recent
        assert call.to_number in recent
    assert len(response.context["campaign_recent_calls"]) == 3
    config = response.context["campaign_progress_config"]
    assert config["url"] == progress_url(campaign) and config["many"] is False


def test_change_page_lists_at_most_twenty_calls_newest_first(admin_client, make_campaign):
    campaign = make_campaign(phones(100, 25), max_concurrent_calls=25)
    campaign_start(campaign=campaign)
    dispatch()

    rows = admin_client.get(change_url(campaign)).context["campaign_recent_calls"]

    assert len(rows) == 20
    created = [row["created_at"] for row in rows]
    assert created == sorted(created, reverse=True)


# -- the form ---------------------------------------------------------------------------------


def form_data(campaign_list: ContactList, caller, agent_profile, **overrides) -> dict:
    data = {
        "name": "Spring reminders",
        "agent_profile": str(agent_profile.pk),
        "caller_id_strategy": "fixed",
        "caller_ids": [str(caller.pk)],
        "contact_lists": [str(campaign_list.pk)],
        "start_at_0": "",
        "start_at_1": "",
        "end_at_0": "",
        "end_at_1": "",
        "weekdays": ["4", "0", "2"],
        "window_start": "09:00",
        "window_end": "17:00",
        "max_concurrent_calls": "5",
        "max_calls_per_minute": "30",
        "max_attempts": "3",
        "retry_delay_no_answer": "3600",
        "retry_delay_busy": "600",
        "retry_delay_failed": "1800",
        "retry_delay_voicemail": "3600",
        "voicemail_policy": "hang_up",
        "voicemail_message": "",
        "max_callbacks": "2",
        "outcomes": '["interested", "not_interested"]',
        "pause_after_failures": "10",
        "_save": "Save",
    }
    data.update(overrides)
    return data


def checked_weekdays(html: str) -> list[str]:
    boxes = re.findall(r'<input type="checkbox" name="weekdays"[^>]*>', html)
    assert len(boxes) == 7
    return [re.search(r'value="(\d)"', box).group(1) for box in boxes if " checked" in box]


def test_weekdays_are_checkboxes_stored_as_a_sorted_list(
    admin_client, imported_caller, agent_profile
):
    contact_list = ContactList.objects.create(name="Patients")
    add = reverse("admin:campaigns_campaign_add")
    assert checked_weekdays(admin_client.get(add).content.decode()) == ["0", "1", "2", "3", "4"]

    response = admin_client.post(add, form_data(contact_list, imported_caller, agent_profile))

    assert response.status_code == 302, response.context["adminform"].form.errors
    campaign = Campaign.objects.get(name="Spring reminders")
    assert campaign.weekdays == [0, 2, 4]
    assert campaign.status == Campaign.Status.DRAFT
    assert list(campaign.caller_ids.all()) == [imported_caller]
    assert checked_weekdays(admin_client.get(change_url(campaign)).content.decode()) == [
        "0",
        "2",
        "4",
    ]

    data = form_data(contact_list, imported_caller, agent_profile, weekdays=["6", "5"])
    admin_client.post(change_url(campaign), data)
    campaign.refresh_from_db()
    assert campaign.weekdays == [5, 6]


def test_editing_a_draft_changes_its_numbers_and_lists(
    admin_client, make_campaign, imported_caller, agent_profile
):
    draft = make_campaign()
    other_list = ContactList.objects.create(name="Other patients")
    other_caller = PhoneNumber.objects.create(e164="+14155550111", outbound=True)
    data = form_data(other_list, other_caller, agent_profile, name="Edited", max_attempts="5")

    response = admin_client.post(change_url(draft), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    draft.refresh_from_db()
    assert (draft.name, draft.max_attempts, draft.weekdays) == ("Edited", 5, [0, 2, 4])
    assert list(draft.caller_ids.all()) == [other_caller]
    assert list(draft.contact_lists.all()) == [other_list]


def test_the_form_refuses_a_window_that_ends_before_it_starts(
    admin_client, imported_caller, agent_profile
):
    contact_list = ContactList.objects.create(name="Patients")
    data = form_data(contact_list, imported_caller, agent_profile, window_end="08:00")

    response = admin_client.post(reverse("admin:campaigns_campaign_add"), data)

    assert response.status_code == 200
    assert "The daily window must end after it starts." in response.content.decode()
    assert not Campaign.objects.exists()


def test_the_form_refuses_a_caller_id_not_enabled_for_outbound_calls(
    admin_client, imported_caller, agent_profile
):
    # The same rule as the API's (campaign_settings_errors), not only at start.
    imported_caller.outbound = False
    imported_caller.save()
    contact_list = ContactList.objects.create(name="Patients")
    data = form_data(contact_list, imported_caller, agent_profile)

    response = admin_client.post(reverse("admin:campaigns_campaign_add"), data)

    assert response.status_code == 200
    assert f"Not enabled for outbound calls: {imported_caller.e164}." in response.content.decode()
    assert not Campaign.objects.exists()


def test_a_running_campaigns_settings_are_read_only_except_its_name(admin_client, make_campaign):
    campaign = make_campaign(phones(150, 2), max_concurrent_calls=2)
    campaign_start(campaign=campaign)

    html = admin_client.get(change_url(campaign)).content.decode()

    assert 'name="name"' in html
    for field in ("max_concurrent_calls", "weekdays", "window_start", "caller_ids", "agent_profile",
                  "contact_lists", "max_attempts"):  # fmt: skip
        assert f'name="{field}"' not in html, field
    assert 'id="campaign-locked"' in html
    assert (
        "This campaign has been started" in html and "only its name and its analysis plan" in html
    )
    assert "Mon, Tue, Wed, Thu, Fri, Sat, Sun" in html  # the weekdays, read only

    response = admin_client.post(
        change_url(campaign),
        {"name": "Renamed", "max_concurrent_calls": "99", "weekdays": ["0"], "_save": "Save"},
    )

    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.name == "Renamed"
    assert campaign.max_concurrent_calls == 2
    assert campaign.weekdays == list(range(7))
    assert campaign.status == Campaign.Status.RUNNING


def test_saving_the_name_does_not_write_back_what_the_dispatcher_changed(
    admin_client, make_campaign
):
    campaign = make_campaign()
    campaign_start(campaign=campaign)
    # What a save with update_fields leaves alone: the status and the dispatcher's bookkeeping.
    Campaign.objects.filter(pk=campaign.pk).update(round_robin_position=7)

    admin_client.post(change_url(campaign), {"name": "Renamed", "_save": "Save"})

    campaign.refresh_from_db()
    assert (campaign.name, campaign.round_robin_position) == ("Renamed", 7)


def test_only_a_draft_can_be_deleted(admin_client, make_campaign):
    draft = make_campaign(name="Draft")
    running = make_campaign(name="Running")
    campaign_start(campaign=running)

    def delete_url(campaign: Campaign) -> str:
        return reverse("admin:campaigns_campaign_delete", args=[campaign.pk])

    assert admin_client.post(delete_url(running), {"post": "yes"}).status_code == 403
    assert Campaign.objects.filter(pk=running.pk).exists()
    assert admin_client.post(delete_url(draft), {"post": "yes"}).status_code == 302
    assert not Campaign.objects.filter(pk=draft.pk).exists()
    actions = admin_client.get(CHANGELIST).context["action_form"].fields["action"].choices
    assert "delete_selected" not in [name for name, _ in actions]


# -- campaign contacts ------------------------------------------------------------------------


def test_campaign_contacts_list_is_read_only_with_a_link_to_the_last_call(
    admin_client, make_campaign
):
    campaign = make_campaign(["+14155550150", "+14155550250"], max_concurrent_calls=1)
    campaign_start(campaign=campaign)
    dispatch()
    call = Call.objects.get()
    end_call(call, CallStatus.NO_ANSWER)

    response = admin_client.get(CONTACTS)

    assert response.status_code == 200
    html = response.content.decode()
    assert "+14155550150" in html and "+14155550250" in html
    assert "Ada0" in html
    assert reverse("admin:telephony_call_change", args=[call.pk]) in html
    assert "Retry scheduled" in html and "no_answer" in html
    assert reverse("admin:campaigns_campaigncontact_add") not in html
    rows = response.context["cl"].result_list
    assert len(rows) == 2

    by_phone = admin_client.get(CONTACTS, {"q": "+14155550250"}).context["cl"].result_list
    assert [entry.contact.phone for entry in by_phone] == ["+14155550250"]
    by_name = admin_client.get(CONTACTS, {"q": "Ada0"}).context["cl"].result_list
    assert [entry.contact.phone for entry in by_name] == [call.to_number]
    pending = admin_client.get(CONTACTS, {"status__exact": "pending"}).context["cl"].result_list
    assert len(pending) == 1
    other = make_campaign(["+14155550350"], name="Other")
    campaign_start(campaign=other)
    mine = admin_client.get(CONTACTS, {"campaign__id__exact": str(other.pk)})
    assert [entry.campaign_id for entry in mine.context["cl"].result_list] == [other.pk]

    entry = CampaignContact.objects.get(contact__phone="+14155550150", campaign=campaign)
    url = reverse("admin:campaigns_campaigncontact_change", args=[entry.pk])
    assert admin_client.get(url).status_code == 200  # viewable
    admin_client.post(url, {"status": "completed"})
    entry.refresh_from_db()
    assert entry.status != CS.COMPLETED


def test_campaign_contacts_list_query_count_does_not_grow(admin_client, make_campaign):
    campaign = make_campaign(phones(100, 2), max_concurrent_calls=10)
    campaign_start(campaign=campaign)
    dispatch()
    admin_client.get(CONTACTS)
    with CaptureQueriesContext(connection) as few:
        admin_client.get(CONTACTS)

    bigger = make_campaign(phones(200, 12), max_concurrent_calls=12, name="Bigger")
    campaign_start(campaign=bigger)
    dispatch(now=timezone.now() + timedelta(seconds=1))
    with CaptureQueriesContext(connection) as many:
        response = admin_client.get(CONTACTS)

    assert len(response.context["cl"].result_list) == 14
    # one more campaign in the campaign filter's choices is the same query
    assert len(many.captured_queries) == len(few.captured_queries)


# -- the call list's campaign filter ----------------------------------------------------------


def test_call_admin_filters_by_campaign(admin_client, make_campaign):
    first = make_campaign(phones(150, 2), name="First", max_concurrent_calls=2)
    second = make_campaign(phones(150, 1, area="212"), name="Second")
    campaign_start(campaign=first)
    campaign_start(campaign=second)
    dispatch()
    assert CampaignCallFilter in admin.site._registry[Call].list_filter

    response = admin_client.get(CALLS, {"campaign": str(first.pk)})

    assert response.status_code == 200
    shown = list(response.context["cl"].result_list)
    assert {call.to_number for call in shown} == set(phones(150, 2))
    html = response.content.decode()
    assert "By campaign" in html and "No campaign (single calls)" in html
    assert ">First</a>" in html and ">Second</a>" in html

    second_only = admin_client.get(CALLS, {"campaign": str(second.pk)}).context["cl"].result_list
    assert [call.to_number for call in second_only] == phones(150, 1, area="212")
    assert list(admin_client.get(CALLS, {"campaign": "none"}).context["cl"].result_list) == []
    assert len(admin_client.get(CALLS).context["cl"].result_list) == 3


# -- live panels: calls over time and last calls ------------------------------------------------


def live_panels_url(campaign: Campaign) -> str:
    return reverse("admin:campaigns_campaign_live_panels", args=[campaign.pk])


def test_the_change_page_charts_calls_over_time_and_refreshes_its_panels(
    admin_client, make_campaign
):
    campaign = make_campaign(phones(150, 3), max_concurrent_calls=3, max_attempts=1)
    page = admin_client.get(change_url(campaign)).content.decode()
    assert 'id="campaign-live-panels"' in page
    assert "No calls yet." in page
    config = json.loads(
        re.search(r'id="campaign-progress-config"[^>]*>(.*?)</script>', page, re.S).group(1)
    )
    assert config["panels_url"] == live_panels_url(campaign)

    campaign = campaign_start(campaign=campaign)
    dispatch()
    first, *_ = Call.objects.filter(campaign_attempt__campaign=campaign).order_by("to_number")
    end_call(first, CallStatus.BUSY)
    response = admin_client.get(live_panels_url(campaign))

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    html = response.content.decode()
    assert "<html" not in html
    assert f'aria-label="Calls of {campaign.name} over time"' in html
    assert 'data-total="3"' in html
    assert len(re.findall(r'<rect [^>]*data-series="busy"', html)) == 1
    assert len(re.findall(r'<rect [^>]*data-series="queued"', html)) == 1
    assert html.count('<tr>\n        <td><a href="/admin/telephony/call/') == 3


def test_live_panels_refuse_post_unknown_campaigns_and_anonymous_visitors(
    admin_client, client, make_campaign
):
    campaign = make_campaign()
    assert admin_client.post(live_panels_url(campaign)).status_code == 405
    missing = reverse("admin:campaigns_campaign_live_panels", args=[campaign.pk + 100])
    assert admin_client.get(missing).status_code == 404
    response = client.get(live_panels_url(campaign))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_caller_id_picker_offers_outbound_numbers_only(admin_client, caller_number):
    PhoneNumber.objects.create(e164="+14155550177", label="Front desk", outbound=False)
    params = {"app_label": "campaigns", "model_name": "campaign", "term": "+1415"}

    callers = admin_client.get("/admin/autocomplete/", {**params, "field_name": "caller_ids"})
    assert [r["id"] for r in callers.json()["results"]] == [str(caller_number.pk)]
    # The number list itself still finds every number.
    numbers = admin_client.get(reverse("admin:telephony_phonenumber_changelist"), {"q": "+1415"})
    assert "+14155550177" in numbers.content.decode()


@pytest.mark.parametrize("value", ["²", "99999999999999999999999", "abc"])
def test_the_calls_campaign_filter_ignores_what_is_not_an_id(admin_client, value):
    page = admin_client.get(reverse("admin:telephony_call_changelist"), {"campaign": value})
    assert page.status_code == 200
