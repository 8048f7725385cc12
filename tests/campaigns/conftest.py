"""Campaign tests: the dispatcher and campaign services against the in-process simulator."""

import pytest

from campaigns.models import Campaign, ContactList
from tests.support.factories import CampaignFactory, ContactFactory, ContactListFactory


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
        contact_list = ContactListFactory()
        for index, phone in enumerate(phones):
            ContactFactory(contact_list=contact_list, phone=phone, first_name=f"Ada{index}")
        return CampaignFactory(
            agent_profile=agent_profile,
            contact_lists=[contact_list],
            caller_ids=callers or [imported_caller],
            **{"max_calls_per_minute": 1000, **fields},
        )

    return make
