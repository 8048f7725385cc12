"""Staff read the admin in their own time zone (the browser's, kept in a cookie); the API stays
in UTC; a campaign's calling window is the contact's local time, with no "Now" shortcut."""

import re

import pytest
from django.urls import reverse

from contactcenter.staff_time import COOKIE
from tests.support.factories import CallFactory, CampaignFactory

pytestmark = pytest.mark.django_db


def queued_at(html: str) -> str:
    return re.search(
        r'field-queued_at_shown">.*?<div class="readonly">(.*?)</div>', html, re.S
    ).group(1)


def test_the_admin_shows_times_in_the_staff_members_zone_and_says_which(admin_client, clock):
    call = CallFactory()  # queued at the pinned clock: Wednesday 18:00 UTC
    url = reverse("admin:telephony_call_change", args=[call.pk])

    in_utc = admin_client.get(url).content.decode()
    assert re.fullmatch(
        r'<time datetime="2026-11-25T18:00:00[.\d]*\+00:00" title="2026-11-25 18:00:00 UTC">'
        r"2026-11-25 18:00:00 UTC</time>",
        queued_at(in_utc),
    )
    assert "Times: UTC (UTC)" in in_utc

    admin_client.cookies[COOKIE] = "Asia/Tokyo"
    in_tokyo = admin_client.get(url).content.decode()
    assert re.fullmatch(  # the UTC time on hover
        r'<time datetime="2026-11-25T18:00:00[.\d]*\+00:00" title="2026-11-25 18:00:00 UTC">'
        r"2026-11-26 03:00:00 JST</time>",
        queued_at(in_tokyo),
    )
    assert "Times: Asia/Tokyo (JST)" in in_tokyo


def test_a_made_up_zone_is_ignored_and_the_api_stays_utc(admin_client, api_client):
    call = CallFactory()
    admin_client.cookies[COOKIE] = "Mars/Olympus_Mons"
    html = admin_client.get(reverse("admin:telephony_call_change", args=[call.pk])).content
    assert "Times: UTC" in html.decode()

    api_client.cookies[COOKIE] = "Asia/Tokyo"
    body = api_client.get(f"/api/v1/calls/{call.pk}/").json()
    assert body["created_at"].endswith("Z") or body["created_at"].endswith("+00:00")


def test_the_calling_window_is_the_contacts_local_time_without_a_now_shortcut(admin_client):
    campaign = CampaignFactory()
    html = admin_client.get(
        reverse("admin:campaigns_campaign_change", args=[campaign.pk])
    ).content.decode()

    assert "Window start (contact&#x27;s local time)" in html
    assert re.search(r'<input type="time" name="window_start" value="08:00"', html)
    assert 'name="window_start" class="vTimeField"' not in html  # no admin clock and "Now"


def test_the_calls_list_shows_when_each_call_was_made_with_utc_on_hover(admin_client):
    CallFactory()
    admin_client.cookies[COOKIE] = "Asia/Tokyo"

    html = admin_client.get(reverse("admin:telephony_call_changelist")).content.decode()

    assert re.search(r'title="2026-11-25 18:00:00 UTC">2026-11-26 03:00:00 JST</time>', html)
    assert 'class="sortable column-created_at_shown' in html
