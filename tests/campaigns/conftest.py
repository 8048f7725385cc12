"""Campaign tests: the dispatcher and campaign services against the in-process simulator."""

import pytest

from campaigns.models import Campaign, Contact, ContactList
from tests.support.factories import EVERY_DAY


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
