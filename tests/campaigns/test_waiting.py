"""Why a campaign waits, in words (campaigns.services.waiting), on the campaign list and page,
in the API's stats and on the Start confirmation. The suite's clock is pinned at Wednesday
18:00 UTC: 10:00 in San Francisco (+1415 numbers), 03:00 on Thursday in Tokyo."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from campaigns.models import Campaign, CampaignContact, Contact
from campaigns.services.campaigns import campaign_pause, campaign_start, campaigns_progress
from campaigns.services.dispatch import dispatch
from campaigns.services.dnc import dnc_add
from campaigns.services.waiting import campaign_start_preview, campaigns_waiting, in_words

pytestmark = pytest.mark.django_db


def in_tokyo(campaign: Campaign, count: int) -> None:
    phones = Contact.objects.filter(contact_list__campaigns=campaign).order_by("id")[:count]
    Contact.objects.filter(pk__in=[contact.pk for contact in phones]).update(timezone="Asia/Tokyo")


def waiting(campaign: Campaign) -> list[str]:
    return campaigns_waiting([Campaign.objects.get(pk=campaign.pk)])[campaign.pk]


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(0, "in 0 s"), (59, "in 59 s"), (60, "in 1 min"), (26_700, "in 7 h 25 min"),
     (3 * 86_400 + 7_200 + 60, "in 3 days 2 h"), (86_400, "in 1 day")],
)  # fmt: skip
def test_in_words(seconds, words):
    assert in_words(timedelta(seconds=seconds)) == words


def test_contacts_outside_their_window_say_when_it_opens(make_campaign, clock):
    campaign = make_campaign(["+14155550150", "+14155550151", "+14155550152"])
    in_tokyo(campaign, 2)
    campaign_start(campaign=campaign)
    dispatch()  # one call now (San Francisco); the two in Tokyo are deferred to 08:00 there

    [reason] = waiting(campaign)

    assert reason == (
        "2 contacts wait for their calling window: the next opens at 2026-11-25 23:00 UTC (in 5 h)."
    )
    clock.advance(hours=2, minutes=35)
    assert waiting(campaign)[0].endswith("2026-11-25 23:00 UTC (in 2 h 25 min).")


def test_lines_in_use_say_so(make_campaign):
    campaign = make_campaign(["+14155550150", "+14155550151", "+14155550152"],
                             max_concurrent_calls=1)  # fmt: skip
    campaign_start(campaign=campaign)
    dispatch()

    assert waiting(campaign) == ["This campaign's 1 line is in use: 2 contacts due wait for one."]


def test_the_account_cap_in_use_says_so(make_campaign, settings):
    settings.AGORA_MAX_CONCURRENT_CALLS = 1
    campaign = make_campaign(["+14155550150", "+14155550151"])
    campaign_start(campaign=campaign)
    dispatch()

    assert waiting(campaign) == [
        "The account's 1 concurrent call is in use: 1 contact due waits for a line."
    ]


def test_the_pace_used_up_says_so(make_campaign):
    campaign = make_campaign(["+14155550150", "+14155550151"], max_calls_per_minute=1)
    campaign_start(campaign=campaign)
    dispatch()

    assert waiting(campaign) == [
        "The pace of 1 call a minute is used up: 1 contact due is called within a minute."
    ]


def test_no_caller_id_left_says_so(make_campaign):
    campaign = make_campaign(["+14155550150"])
    campaign_start(campaign=campaign)
    campaign.caller_ids.clear()

    assert waiting(campaign) == [
        "No caller ID of this campaign can place calls: add an outbound number."
    ]


def test_retries_paused_and_scheduled_say_so(make_campaign, clock):
    campaign = make_campaign(["+14155550150"])
    campaign_start(campaign=campaign)
    CampaignContact.objects.filter(campaign=campaign).update(
        status=CampaignContact.Status.RETRY_SCHEDULED,
        attempts=1,
        next_attempt_at=clock.now() + timedelta(minutes=12),
        note="no answer",
    )
    assert waiting(campaign) == [
        "1 contact waits for a retry: the next at 2026-11-25 18:12 UTC (in 12 min)."
    ]
    campaign_pause(campaign=campaign)
    assert waiting(campaign)[0] == "Paused: no new calls until it is resumed."

    later = make_campaign(["+14155550160"], name="Later", start_at=clock.now() + timedelta(hours=3))
    campaign_start(campaign=later)
    assert waiting(later)[0] == "Starts at 2026-11-25 21:00 UTC (in 3 h)."


def test_a_campaign_whose_contacts_are_all_on_a_call_says_it_completes_when_they_end(
    make_campaign,
):
    campaign = make_campaign(["+14155550150"])
    campaign_start(campaign=campaign)
    dispatch()

    assert waiting(campaign) == [
        "Every contact is done or on a call (1 on a call): it completes when the last call ends."
    ]


def test_a_campaign_calling_as_fast_as_it_may_and_a_draft_have_nothing_to_say(make_campaign):
    busy = make_campaign(["+14155550150", "+14155550151"])
    campaign_start(campaign=busy)
    draft = make_campaign(["+14155550160"], name="Draft")

    assert campaigns_waiting([busy, draft]) == {busy.pk: [], draft.pk: []}


def test_the_reasons_of_many_campaigns_take_a_fixed_number_of_queries(make_campaign):
    def queries(count: int) -> int:
        for index in range(count):
            campaign = make_campaign([f"+1415555{1000 + index:04d}"], name=f"C{index}-{count}")
            campaign_start(campaign=campaign)
        with CaptureQueriesContext(connection) as context:
            campaigns_progress(Campaign.objects.all())
        return len(context.captured_queries)

    assert queries(2) == queries(10)


# -- before a draft starts --------------------------------------------------------------------


def test_the_start_preview_counts_who_can_be_called_now_and_when_the_others_open(make_campaign):
    campaign = make_campaign(
        ["+14155550150", "+14155550151", "+14155550152", "+14155550153", "+14155550154"]
    )
    in_tokyo(campaign, 2)
    dnc_add(phone="+14155550154")
    Contact.objects.filter(phone="+14155550153").update(timezone="Mars/Olympus_Mons")

    preview = campaign_start_preview(campaign)

    assert (preview.contacts, preview.callable_now, preview.waiting) == (5, 1, 2)
    assert (preview.do_not_call, preview.no_time_zone) == (1, 1)
    assert preview.sentences(campaign, preview.next_opening - timedelta(hours=5)) == [
        "5 contacts in its lists; 1 can be called now.",
        "2 contacts wait for their calling window: the next opens at 08:00 their time "
        "(2026-11-25 23:00 UTC, in 5 h).",
        "1 contact is on the do-not-call list: not called.",
        "1 contact has no known time zone and will not be called: set their timezone.",
    ]


def test_the_start_confirmation_page_says_what_starting_does_then_starts(
    admin_client, make_campaign
):
    campaign = make_campaign(["+14155550150", "+14155550151"])
    in_tokyo(campaign, 1)
    url = reverse("admin:campaigns_campaign_start", args=[campaign.pk])

    page = admin_client.get(url).content.decode()

    assert "2 contacts in its lists; 1 can be called now." in page
    assert "the next opens at 08:00 their time (2026-11-25 23:00 UTC, in 5 h)" in page
    assert f'action="{url}"' in page
    change = admin_client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk]))
    assert f'href="{url}" id="campaign-start-link"' in change.content.decode()
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT  # looking starts nothing

    admin_client.post(url)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.RUNNING


def test_the_start_confirmation_lists_what_stops_a_campaign(admin_client, make_campaign):
    campaign = make_campaign(["+14155550150"])
    campaign.caller_ids.clear()

    page = admin_client.get(reverse("admin:campaigns_campaign_start", args=[campaign.pk]))

    html = page.content.decode()
    assert 'id="start-problems"' in html and "Choose at least one caller ID number." in html
    assert 'id="start-confirm"' not in html


def test_the_campaign_list_and_the_api_show_why_it_waits(admin_client, api_client, make_campaign):
    campaign = make_campaign(["+14155550150", "+14155550151"])
    in_tokyo(campaign, 1)
    campaign_start(campaign=campaign)
    dispatch()
    said = "1 contact waits for their calling window: the next opens at 2026-11-25 23:00 UTC"

    html = admin_client.get(reverse("admin:campaigns_campaign_changelist")).content.decode()
    assert '<ul class="cp-waiting" data-list="waiting">' in html and said in html
    stats = api_client.get(f"/api/v1/campaigns/{campaign.pk}/stats/").json()
    assert stats["waiting"][0].startswith(said)
