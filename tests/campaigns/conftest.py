"""Campaign tests: the dispatcher and campaign services against the in-process simulator."""

from datetime import time

import pytest

from campaigns.models import Campaign, Contact, ContactList

# Every day, as wide as the calling-hours guard (08:00-21:00) lets any campaign call; the
# suite's clock (tests/clock.py) is pinned inside it for the usual callees.
EVERY_DAY = {"window_start": time(8, 0), "window_end": time(21, 0), "weekdays": list(range(7))}


@pytest.fixture
def var_dir(settings, tmp_path):
    """Uploads and other files under this test's own folder."""
    settings.VAR_DIR = tmp_path
    return tmp_path


@pytest.fixture
def contact_list(db) -> ContactList:
    return ContactList.objects.create(name="Customers")


@pytest.fixture
def make_campaign(db, agent_profile, imported_caller):
    def make(phones=("+14155550150",), *, callers=None, **fields) -> Campaign:
        contact_list = ContactList.objects.create(name=f"list-{ContactList.objects.count()}")
        for index, phone in enumerate(phones):
            Contact.objects.create(contact_list=contact_list, phone=phone, first_name=f"Ada{index}")
        campaign = Campaign.objects.create(
            name=fields.pop("name", "Reminders"),
            agent_profile=agent_profile,
            **{**EVERY_DAY, "max_calls_per_minute": 1000, **fields},
        )
        campaign.contact_lists.add(contact_list)
        campaign.caller_ids.add(*(callers or [imported_caller]))
        return campaign

    return make
