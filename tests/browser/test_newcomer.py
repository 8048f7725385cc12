"""A newcomer's first hour in the console, in a real browser: import a CSV with bad rows, start a
campaign whose contacts are partly outside their calling window and read why it waits, pause it,
change its window, resume it, duplicate it, place a test call from the agent's page, follow a
call to its campaign and contact, and export the calls.

What workers do (the import, the dispatcher) is run here in the test's process, at the point a
worker would: the pages are what is under test, against the app served by the live server."""

import csv
import io

import pytest
from django.contrib.auth import get_user_model

from campaigns.models import Campaign, ContactImport, ContactList
from campaigns.services.contacts import contact_import_run
from campaigns.services.dispatch import dispatch
from telephony.models import Call
from tests.support.clock import daytime_zone
from tests.support.factories import EVERY_DAY

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True), pytest.mark.real_clock]

PASSWORD = "a-newcomer-password-for-tests"


def figure(page, selector: str) -> str:
    return (page.locator(selector).first.text_content() or "").strip()


@pytest.fixture
def newcomer(db):
    return get_user_model().objects.create_superuser("newcomer", "new@example.com", PASSWORD)


def test_a_newcomers_path_through_the_console(
    live_server, newcomer, caller_number, agent_profile, page, screenshot, clock, redis_db,
    tmp_path,
):  # fmt: skip
    now = clock.now()
    day, night = daytime_zone(now), daytime_zone(now, local_hour=2)
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "newcomer")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#console-dashboard-entry")

    # 1. A CSV with two bad rows: imported, the rejects said in amber and downloadable.
    contact_list = ContactList.objects.create(name="First customers")
    upload = tmp_path / "customers.csv"
    upload.write_text(
        "phone,first_name,timezone,consent\n"
        f"+14155550150,Ada,{day},yes\n+14155550160,Grace,{day},yes\n"
        f"+14155550170,Alan,{night},yes\nnot a number,Bob,,\n+1415555,Eve,,\n"
    )
    page.goto(f"{live_server.url}/admin/campaigns/contactlist/{contact_list.pk}/import/")
    page.set_input_files("input[type=file]", str(upload))
    page.click("#contact-import-form input[type=submit]")
    page.wait_for_selector("#contact-imports")
    contact_import_run(import_id=ContactImport.objects.get().pk)  # the worker's part
    page.wait_for_function(
        "document.querySelector('.import-status-partial') !== null"
        " && document.getElementById('contact-total').textContent === '3'",
        timeout=15_000,
    )
    assert figure(page, ".import-status-partial") == "Done, 2 of 5 rows rejected"
    with page.expect_download() as download:
        page.click(".import-rejected-csv")
    rejected = list(csv.reader(io.StringIO(download.value.path().read_text())))
    assert rejected[0] == ["line", "reason"] and [row[0] for row in rejected[1:]] == ["5", "6"]
    screenshot(page, "import-with-rejected-rows")

    # 2. Start a campaign: the confirmation says what starting does, then why it waits.
    campaign = Campaign.objects.create(
        name="First campaign", agent_profile=agent_profile, max_concurrent_calls=5, **EVERY_DAY
    )
    campaign.contact_lists.add(contact_list)
    campaign.caller_ids.add(caller_number)
    page.goto(f"{live_server.url}/admin/campaigns/campaign/{campaign.pk}/change/")
    assert "3 contacts planned" in figure(page, "#campaign-progress .cp-text")
    page.click("a.campaign-control-start")
    page.wait_for_selector("#start-preview")
    preview = figure(page, "#start-preview")
    assert "3 contacts in its lists; 2 can be called now." in preview
    assert "1 contact waits for their calling window: the next opens at 08:00 their time" in (
        preview
    )
    screenshot(page, "start-confirmation")
    page.click("#start-confirm")
    page.wait_for_selector("#campaign-progress[data-status=running]")
    dispatch()  # the dispatcher's tick: two calls queued, one contact deferred to its window
    page.wait_for_function(
        "[...document.querySelectorAll('#campaign-progress .cp-waiting li')]"
        ".some(item => item.textContent.includes('waits for their calling window'))",
        timeout=15_000,
    )
    screenshot(page, "campaign-waiting-reason")

    # 3. Pause, change the window, resume.
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button.campaign-control-pause")
    page.wait_for_selector("#campaign-locked")
    assert "This campaign is paused" in figure(page, "#campaign-locked")
    page.fill("input[name=window_end]", "20:00")
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")
    campaign.refresh_from_db()
    assert f"{campaign.window_end:%H:%M}" == "20:00"
    screenshot(page, "paused-and-edited")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button.campaign-control-resume")
    page.wait_for_selector("#campaign-progress[data-status=running]")

    # 4. Duplicate it: a new draft with its settings.
    page.click("button.campaign-control-duplicate")
    page.wait_for_selector("#campaign-progress[data-status=draft]")
    assert figure(page, "#content h2") == "Copy of First campaign"
    screenshot(page, "duplicate")

    # 5. A test call from the agent's page: every check applies, then the call's page.
    page.goto(f"{live_server.url}/admin/telephony/agentprofile/{agent_profile.pk}/change/")
    page.click("#test-call")
    page.wait_for_selector("#id_to_number")
    page.fill("#id_to_number", "+14155550199")
    page.select_option("#id_caller_id", str(caller_number.pk))
    page.fill("#id_variables", '{"first_name": "Ada"}')
    page.fill("#id_callee_timezone", day)
    page.click("input[type=submit]")
    page.wait_for_selector("#call-related")
    test_call = Call.objects.get(to_number="+14155550199")
    assert str(test_call.pk) in page.url
    screenshot(page, "test-call")

    # 6. A campaign call's page links to its campaign and contact; the contact has its history.
    campaign_call = Call.objects.filter(campaign_attempt__campaign=campaign).first()
    page.goto(f"{live_server.url}/admin/telephony/call/{campaign_call.pk}/change/")
    assert "Campaign: First campaign" in figure(page, "#call-related")
    page.click("#call-related a[href*='/campaigns/contact/']")
    page.wait_for_selector("#contact-calls")
    assert "First campaign" in figure(page, "#contact-campaigns")
    screenshot(page, "contact-history")

    # 7. The calls list, searched by a contact's name, exported as CSV.
    page.goto(f"{live_server.url}/admin/telephony/call/?q=Grace")
    assert page.locator("#result_list tbody tr").count() == 1
    with page.expect_download() as download:
        page.click("#call-export")
    exported = list(csv.DictReader(io.StringIO(download.value.path().read_text())))
    assert [(row["to"], row["contact"]) for row in exported] == [("+14155550160", "Grace")]
    screenshot(page, "calls-searched")
