"""Editing and deleting campaigns, lists and contacts: one service each
(`campaign_update`, `campaign_delete`, `contact_list_delete`, `contact_delete`), which the
admin and the API both call, so both give the same answer."""

from datetime import time

import pytest
from django.core.exceptions import ValidationError

from campaigns.models import Campaign
from campaigns.services.campaigns import campaign_start, campaign_update

pytestmark = pytest.mark.django_db


# -- campaign_update --------------------------------------------------------------------------


def test_a_draft_changes_only_the_settings_given(make_campaign, contact_list):
    draft = make_campaign(max_attempts=3)
    Campaign.objects.filter(pk=draft.pk).update(round_robin_position=7)  # the dispatcher's

    updated = campaign_update(
        campaign=draft, changes={"max_attempts": 5, "contact_lists": [contact_list]}
    )

    updated.refresh_from_db()
    assert (updated.max_attempts, updated.round_robin_position) == (5, 7)
    assert list(updated.contact_lists.all()) == [contact_list]


def test_a_started_campaign_keeps_its_settings_even_when_edited_from_a_stale_copy(make_campaign):
    campaign = make_campaign()
    stale = Campaign.objects.get(pk=campaign.pk)  # read while it was a draft
    campaign_start(campaign=campaign)

    with pytest.raises(
        ValidationError, match=r"only its name can change\..* \(sent: max_attempts\)"
    ):
        campaign_update(campaign=stale, changes={"name": "Renamed", "max_attempts": 9})
    campaign_update(campaign=stale, changes={"name": "Renamed"})

    campaign.refresh_from_db()
    assert (campaign.name, campaign.max_attempts, campaign.status) == (
        "Renamed",
        3,
        Campaign.Status.RUNNING,
    )


def test_settings_are_checked_against_what_the_campaign_already_has(make_campaign):
    draft = make_campaign(window_start=time(9), window_end=time(17))

    with pytest.raises(ValidationError) as refused:
        campaign_update(campaign=draft, changes={"window_start": time(18)})

    assert refused.value.message_dict == {
        "window_end": ["The daily window must end after it starts."]
    }
    draft.refresh_from_db()
    assert draft.window_start == time(9)
