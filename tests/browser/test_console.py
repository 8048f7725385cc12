"""The staff console in a real browser, against the simulator server, a Celery worker and beat:
log in, start a campaign, watch its progress move without reloading, follow the calls on the
dashboard, and read a call's transcript."""

from contextlib import ExitStack

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model

from analysis.models import CallAnalysis
from campaigns.models import Campaign, CampaignContact, Contact, ContactList
from contactcenter.console import views
from telephony.models import Call
from tests.support.clock import daytime_zone
from tests.support.e2e import app_env, import_caller, simulator_args
from tests.support.factories import EVERY_DAY
from tests.support.processes import (
    celery_beat,
    celery_worker,
    options,
    simulator_server,
    wait_for,
)

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True), pytest.mark.real_clock]

PASSWORD = "a-staff-password-for-tests"
# The simulator's rules, by the callee's last three digits: two talk-time digits, then the
# outcome (0 answers, 1 never answers, 2 busy, 3 fails).
CALLEES = [
    "+14155301060",  # talks 6 s
    "+14155301100",  # talks 10 s
    "+14155301001",
    "+14155301002",
    "+14155301080",  # talks 8 s
    "+14155301003",
    "+14155301070",  # talks 7 s
    "+14155301001",
]


@pytest.fixture
def staff_user(db):
    return get_user_model().objects.create_superuser(
        "supervisor", "supervisor@example.com", PASSWORD
    )


@pytest.fixture
def app_processes(tmp_path, redis_db, live_server, caller_number):
    """The simulator server (webhooks to the app under test), a worker and beat."""
    args = simulator_args(
        "--webhook-url", f"{live_server.url}/webhooks/agora/",
        *options(webhook_secret=settings.AGORA_WEBHOOK_SECRET),
        "--ring-timeout", "3",
    )  # fmt: skip
    with ExitStack() as stack:
        base_url = stack.enter_context(simulator_server(tmp_path, *args))
        import_caller(base_url, caller_number)
        env = app_env(base_url, 4) | {"CALL_ANALYSIS_DELAY_SECONDS": "1"}
        stack.enter_context(celery_worker(tmp_path, hostname="console@test", concurrency=3, **env))
        stack.enter_context(celery_beat(tmp_path, **env))
        yield base_url


def make_campaign(caller, profile, *, now) -> Campaign:
    """Contacts where it is midday `now` (the real clock, which the workers share)."""
    contact_list = ContactList.objects.create(name="Browser renewals")
    Contact.objects.bulk_create(
        Contact(contact_list=contact_list, consent=True, phone=phone, first_name=f"Ada {index}",
                timezone=daytime_zone(now))
        for index, phone in enumerate(dict.fromkeys(CALLEES))
    )  # fmt: skip
    campaign = Campaign.objects.create(
        name="Spring renewals", agent_profile=profile, max_attempts=1, max_concurrent_calls=3,
        max_calls_per_minute=600, **EVERY_DAY,
    )  # fmt: skip
    campaign.contact_lists.add(contact_list)
    campaign.caller_ids.add(caller)
    return campaign


def figure(page, selector: str) -> str:
    return (page.locator(selector).first.text_content() or "").strip()


def test_staff_run_a_campaign_from_the_console(
    app_processes,
    live_server,
    staff_user,
    caller_number,
    agent_profile,
    page,
    screenshot,
    monkeypatch,
    clock,
):
    monkeypatch.setattr(views, "DASHBOARD_REFRESH_MS", 1000)
    campaign = make_campaign(caller_number, agent_profile, now=clock.now())
    contacts = campaign.contact_lists.get().contacts.count()

    # Log in: the admin sends anonymous visitors to its login page.
    page.goto(f"{live_server.url}/admin/")
    assert "/admin/login/" in page.url
    page.fill("#id_username", "supervisor")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#console-dashboard-entry")
    screenshot(page, "admin-index")

    # The campaign, from the campaign list.
    page.click("#content-main a[href$='/campaigns/campaign/']")
    page.click(f"#result_list a:text-is('{campaign.name}')")
    page.wait_for_selector("#campaign-progress")
    assert figure(page, "[data-badge]") == "Draft"
    screenshot(page, "campaign-draft")

    # Start it: a confirmation page says first what starting would do.
    assert figure(page, "#campaign-progress [data-f=contacts]") == str(contacts)  # planned
    page.click("a.campaign-control-start")
    page.wait_for_selector("#start-preview")
    assert f"{contacts} contacts in its lists; {contacts} can be called now." in figure(
        page, "#start-preview"
    )
    screenshot(page, "campaign-start-confirmation")
    page.click("#start-confirm")
    page.wait_for_selector("#campaign-progress[data-status=running]")
    assert figure(page, "#campaign-progress [data-f=done]") == "0"

    # Progress moves on the open page, without a reload.
    page.evaluate("window.stillTheSamePage = true")
    page.wait_for_function(
        "Number(document.querySelector('#campaign-progress [data-f=done]').textContent) > 0",
        timeout=60_000,
    )
    page.wait_for_selector("#campaign-calls-over-time svg rect[data-series]")
    assert page.evaluate("window.stillTheSamePage") is True
    screenshot(page, "campaign-running")

    # The dashboard while the campaign runs: it refreshes itself.
    dashboard = page.context.new_page()
    dashboard.goto(f"{live_server.url}/admin/dashboard/")
    assert dashboard.locator(f"[data-campaign-row='{campaign.pk}']").count() == 1
    assert figure(dashboard, "[data-figure=cap]") == str(settings.AGORA_MAX_CONCURRENT_CALLS)
    dashboard.wait_for_selector("#dashboard-live[data-refreshed]")
    screenshot(dashboard, "dashboard-running")

    # The campaign page follows the campaign to its end.
    page.bring_to_front()
    page.wait_for_function(
        f"document.querySelector('#campaign-progress [data-f=done]').textContent == '{contacts}'",
        timeout=120_000,
    )
    page.wait_for_selector("#campaign-progress[data-status=completed]")
    assert page.evaluate("window.stillTheSamePage") is True
    assert figure(page, "[data-badge]") == "Completed"
    for control in ("pause", "cancel", "cancel_hang_up"):  # no longer allowed: gone
        assert page.locator(f"#campaign-{control}-form").is_hidden()
    completed = campaign.contacts.filter(status=CampaignContact.Status.COMPLETED).count()
    assert figure(page, "[data-contact-status=completed]") == str(completed) == "4"
    assert page.locator("#campaign-recent-calls tbody tr").count() == contacts
    screenshot(page, "campaign-completed")

    # The dashboard, once every call has ended, shows the day's figures.
    calls = Call.objects.count()
    dashboard.wait_for_function(
        f"document.querySelector('[data-figure=calls_24h]').textContent.trim() == '{calls}'"
        " && document.querySelector('[data-figure=live_calls]').textContent.trim() == '0'",
        timeout=20_000,
    )
    answered = Call.objects.filter(answered_at__isnull=False).count()
    assert figure(dashboard, "[data-figure=answer_rate]") == f"{round(100 * answered / calls)}%"
    assert figure(dashboard, "#panel-outcomes [data-value=completed]") == str(completed)
    assert int(figure(dashboard, "[data-figure=webhooks_received]")) > 0
    assert figure(dashboard, "[data-figure=webhooks_ok]") == "Healthy"
    screenshot(dashboard, "dashboard-after")

    # A call's page: its timeline and its transcript as a conversation.
    talked = Call.objects.filter(status="completed").order_by("created_at").first()
    wait_for(
        lambda: Call.objects.get(pk=talked.pk).transcript,
        timeout=30,
        message="the transcript to arrive (agent history webhook)",
    )
    page.click(f"#campaign-recent-calls a[href*='{talked.pk}']")
    page.wait_for_selector("#call-transcript")
    transcript = Call.objects.get(pk=talked.pk).transcript
    bubbles = page.locator("#call-transcript .call-bubble")
    assert bubbles.count() == len(transcript) >= 2
    assert page.locator("#call-transcript .call-bubble-assistant").count() >= 1
    first = bubbles.first.inner_text()
    assert transcript[0]["content"] in first and "Acme" in first
    timeline = page.locator("#call-timeline").inner_text()
    assert "Agora webhook" in timeline and "answered → completed" in timeline
    screenshot(page, "call-transcript")

    # The reports staff decide from: when people answer, the caller IDs, the dispositions.
    wait_for(
        lambda: CallAnalysis.objects.count() >= completed,
        timeout=30,
        message="the conversations to be analysed",
    )
    page.goto(f"{live_server.url}/admin/campaigns/campaign/{campaign.pk}/change/")
    page.wait_for_selector("#campaign-answer-rates table.heat-map td.heat")
    assert f"{completed} of " in figure(page, "#campaign-answer-rates .heat-map-note")
    assert (
        page.locator(f"#campaign-caller-health [data-caller='{caller_number.e164}']").count() == 1
    )
    assert figure(page, "[data-breakdown=success_rate]").endswith("%")
    screenshot(page, "campaign-reports")
    dashboard.goto(f"{live_server.url}/admin/dashboard/")
    dashboard.wait_for_selector("#panel-answer-rates table.heat-map td.heat")
    assert figure(dashboard, "#panel-dispositions [data-figure=success_rate]").endswith("%")
    screenshot(dashboard, "dashboard-reports")
