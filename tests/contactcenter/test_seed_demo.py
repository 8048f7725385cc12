from io import StringIO

import pytest
from django.core.management import call_command

from telephony.models import AgentProfile, PhoneNumber
from telephony.services.calls import call_create

pytestmark = pytest.mark.django_db


def test_demo_data_is_created_once_and_can_place_a_call(django_capture_on_commit_callbacks):
    out = StringIO()
    with django_capture_on_commit_callbacks() as pushes:
        call_command("seed_demo", stdout=out)
        call_command("seed_demo", stdout=StringIO())

    number = PhoneNumber.objects.get()
    profile = AgentProfile.objects.get()
    assert number.sync_state == PhoneNumber.SyncState.PENDING  # pushed to the simulator by a worker
    assert len(pushes) == 1
    profile.full_clean()
    call = call_create(
        to_number="+14155550150",
        caller_id=number,
        agent_profile=profile,
        variables={"first_name": "Ada"},
    )
    assert call.status == "queued"
    assert "place_call --to" in out.getvalue()

    from campaigns.models import Campaign
    from campaigns.services.campaigns import campaign_start_problems

    campaign = Campaign.objects.get(name="Demo reminders")
    assert campaign.status == Campaign.Status.DRAFT
    assert campaign.contact_lists.get().contacts.count() == 6
    # Startable once the worker has synced the demo number with the simulator.
    number.sync_state = PhoneNumber.SyncState.SYNCED
    number.save()
    assert campaign_start_problems(campaign) == []


def test_no_demo_data_with_real_agora(settings):
    settings.AGORA_SIMULATOR = False
    call_command("seed_demo", stdout=StringIO())
    assert not PhoneNumber.objects.exists()


def test_the_printed_place_call_command_carries_what_make_run_sets(db, settings):
    from contactcenter.management.commands.seed_demo import run_env

    settings.DEBUG, settings.AGORA_SIMULATOR, settings.WEB_PORT = True, True, 8000
    assert run_env() == "DEBUG=true AGORA_SIMULATOR=true "
    settings.WEB_PORT = 8123
    assert run_env() == "DEBUG=true AGORA_SIMULATOR=true WEB_PORT=8123 "
    settings.DEBUG = False
    assert run_env() == "AGORA_SIMULATOR=true WEB_PORT=8123 "
