"""The campaign transition table: finished is final, a draft is never returned to, and the
status services refuse every move the table does not hold."""

import itertools

import pytest
from django.core.exceptions import ValidationError

from campaigns.models import Campaign
from campaigns.services.campaigns import campaign_pause, campaign_resume
from campaigns.states import (
    ACTIVE_CAMPAIGN_STATUSES,
    FINAL_STATUSES,
    TRANSITIONS,
    can_transition,
)

S = Campaign.Status


def test_the_table_names_every_status_and_finished_campaigns_never_move():
    assert set(TRANSITIONS) == set(S.values)
    for status in FINAL_STATUSES:
        assert TRANSITIONS[status] == frozenset()
    assert all(S.DRAFT not in targets for targets in TRANSITIONS.values())
    # Anything not yet finished can be cancelled for good.
    assert all(can_transition(status, S.CANCELLED) for status in set(S.values) - FINAL_STATUSES)


def test_active_means_started_and_not_finished():
    assert set(S.values) - FINAL_STATUSES - {S.DRAFT} == ACTIVE_CAMPAIGN_STATUSES


@pytest.mark.parametrize(
    "status,service,target",
    [
        (status, service, target)
        for status, (service, target) in itertools.product(
            S.values,
            [(campaign_pause, S.PAUSED), (campaign_resume, S.RUNNING)],
        )
    ],
)
def test_pause_and_resume_follow_the_table(make_campaign, status, service, target):
    campaign = make_campaign(status=status)
    if can_transition(status, target):
        assert service(campaign=campaign).status == target
    else:
        with pytest.raises(ValidationError, match="cannot become"):
            service(campaign=campaign)
        campaign.refresh_from_db()
        assert campaign.status == status
