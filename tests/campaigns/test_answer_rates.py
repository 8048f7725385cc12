"""When people answer: the answer rate by weekday and hour in the callee's local time, on the
campaign page and the dashboard."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from analysis.models import CallAnalysis
from campaigns.models import CampaignAttempt, CampaignContact
from campaigns.services.answer_rates import answer_rates
from contactcenter.console.charts import answer_rate_heat_map
from telephony.models import Call
from telephony.states import CallStatus
from tests.support.factories import (
    CallFactory,
    CampaignFactory,
    ContactFactory,
    ContactListFactory,
)

pytestmark = pytest.mark.django_db
MONDAY_17_UTC = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)  # 09:00 in LA, 12:00 in New York
LA, NEW_YORK, LONDON = "+14155550150", "+12125550150", "+442071234567"


def calls_at(when: datetime, number: str, *statuses: str, zone: str = "") -> list[Call]:
    made = [
        CallFactory(to_number=number, status=status, callee_timezone=zone) for status in statuses
    ]
    Call.objects.filter(pk__in=[call.pk for call in made]).update(created_at=when)
    return made


def test_each_call_counts_in_its_callees_local_weekday_and_hour():
    calls_at(MONDAY_17_UTC, LA, CallStatus.COMPLETED, CallStatus.NO_ANSWER)
    calls_at(MONDAY_17_UTC, NEW_YORK, CallStatus.COMPLETED, CallStatus.VOICEMAIL,
             CallStatus.BUSY, CallStatus.COMPLETED)  # fmt: skip
    # the contact's own zone wins over its number's
    calls_at(MONDAY_17_UTC + timedelta(minutes=30), LA, CallStatus.COMPLETED, zone="Asia/Tokyo")
    calls_at(MONDAY_17_UTC, LONDON, CallStatus.NO_ANSWER)
    calls_at(MONDAY_17_UTC, LA, CallStatus.FAILED, CallStatus.CANCELED, CallStatus.ANSWERED)

    rates = answer_rates(Call.objects.all())

    assert (rates.cells[(0, 9)].calls, rates.cells[(0, 9)].answered) == (2, 1)  # LA, Monday 9
    assert (rates.cells[(0, 12)].calls, rates.cells[(0, 12)].answered) == (4, 2)  # NY, noon
    assert rates.cells[(1, 2)].answered == 1  # Tokyo: Tuesday 02:00
    assert rates.cells[(0, 17)].calls == 1  # London, 17:00
    assert (rates.calls, rates.answered) == (8, 4)  # failed, canceled and live calls: not counted
    assert rates.best(least_calls=2) == (0, 9) or rates.best(least_calls=2) == (0, 12)
    assert rates.hours == range(2, 18)


def test_the_rows_read_do_not_grow_with_the_calls():
    calls_at(MONDAY_17_UTC, LA, *[CallStatus.COMPLETED] * 30)
    with CaptureQueriesContext(connection) as queries:
        rates = answer_rates(Call.objects.all())
    assert len(queries) == 1 and rates.calls == 30


def test_the_heat_map_says_each_cells_figures_and_escapes_nothing_it_should_not():
    calls_at(MONDAY_17_UTC, LA, CallStatus.COMPLETED, CallStatus.NO_ANSWER)
    html = answer_rate_heat_map(answer_rates(Call.objects.all()), title="<When>")
    assert "&lt;When&gt;" in html and "<When>" not in html
    assert 'data-cell="0-9"' in html and "Mon 09:00-10:00: 1 of 2 answered (50%)" in html
    assert "1 of 2 calls answered by a person (50%)" in html
    empty = answer_rate_heat_map(answer_rates(Call.objects.none()), title="When")
    assert "no calls rang through yet" in empty


def test_the_campaign_page_and_the_dashboard_show_them(admin_client):
    contact_list = ContactListFactory()
    campaign = CampaignFactory(contact_lists=[contact_list])
    entry = CampaignContact.objects.create(
        campaign=campaign, contact=ContactFactory(contact_list=contact_list, phone=LA)
    )
    now = timezone.now()
    for status in (CallStatus.COMPLETED, CallStatus.NO_ANSWER):
        call = CallFactory(to_number=LA, status=status)
        CampaignAttempt.objects.create(campaign_contact=entry, campaign=entry.campaign, call=call,
                                       number=1)  # fmt: skip
    CallAnalysis.objects.create(call=call, disposition="interested", disposition_source="analyzer",
                                success=True, analyzer="builtin", analyzed_at=now)  # fmt: skip

    page = admin_client.get(
        reverse("admin:campaigns_campaign_change", args=[entry.campaign_id])
    ).content.decode()
    assert "When people answer" in page and "1 of 2 calls answered by a person" in page

    dashboard = admin_client.get(reverse("console-dashboard")).content.decode()
    assert "1 of 2 calls answered by a person" in dashboard
    assert 'data-disposition="interested">1<' in dashboard
    assert 'data-figure="success_rate">100%' in dashboard
