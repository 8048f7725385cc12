"""The do-not-call list (campaigns.services.dnc): add, remove, lookup, CSV import, and the
campaign contacts an added number takes out of their campaigns."""

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from campaigns.models import Campaign, CampaignContact, Contact, ContactList, DoNotCall
from campaigns.services import dnc as services
from campaigns.services.contacts import CsvFileError
from campaigns.services.dnc import dnc_add, dnc_contains, dnc_import_csv, dnc_remove
from telephony.models import AgentProfile

pytestmark = pytest.mark.django_db

S = CampaignContact.Status


@pytest.fixture
def enrol(db):
    """enrol(phone, status) -> a CampaignContact of that number in a campaign, in that status."""
    agent = AgentProfile.objects.create(name="Reminder bot", pipeline_id="pipeline-1")
    campaign = Campaign.objects.create(name="Reminders", agent_profile=agent)
    contact_list = ContactList.objects.create(name="Customers")

    def make(phone: str, status: str, *, list_name: str = "") -> CampaignContact:
        target = contact_list
        if list_name:
            target, _ = ContactList.objects.get_or_create(name=list_name)
        contact, _ = Contact.objects.get_or_create(contact_list=target, phone=phone)
        return CampaignContact.objects.create(campaign=campaign, contact=contact, status=status)

    return make


def statuses(*entries: CampaignContact) -> list[str]:
    return [CampaignContact.objects.get(pk=entry.pk).status for entry in entries]


def upload(text: str | bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile("dnc.csv", text.encode() if isinstance(text, str) else text)


# -- add, remove, contains --------------------------------------------------------------------


def test_add_normalises_and_contains_finds_the_e164_form():
    entry = dnc_add(phone="(415) 555-0100", reason="asked by phone")

    assert entry.phone == "+14155550100"
    assert (entry.reason, entry.source) == ("asked by phone", DoNotCall.Source.STAFF)
    assert dnc_contains("+14155550100")
    assert not dnc_contains("+14155550101")


def test_contains_is_one_query(django_assert_num_queries):
    dnc_add(phone="+14155550100")

    with django_assert_num_queries(1):
        assert dnc_contains("+14155550100")


def test_add_is_idempotent_and_a_new_reason_updates_the_entry():
    first = dnc_add(phone="+14155550100", reason="first", source=DoNotCall.Source.API)

    again = dnc_add(phone="+1 415 555 0100")
    assert again.pk == first.pk
    assert again.reason == "first"  # an empty reason keeps the one there

    updated = dnc_add(phone="+14155550100", reason="second", source=DoNotCall.Source.STAFF)
    assert updated.pk == first.pk
    assert (updated.reason, updated.source) == ("second", DoNotCall.Source.API)
    assert updated.created_at == first.created_at
    assert DoNotCall.objects.count() == 1


def test_add_refuses_what_is_not_a_number_or_source():
    with pytest.raises(ValidationError) as error:
        dnc_add(phone="call me maybe")
    assert "phone" in error.value.message_dict

    with pytest.raises(ValidationError) as error:
        dnc_add(phone="+14155550100", source="gossip")
    assert "source" in error.value.message_dict
    assert not DoNotCall.objects.exists()


def test_remove():
    dnc_add(phone="+14155550100")

    assert dnc_remove(phone="415-555-0100") is True
    assert not dnc_contains("+14155550100")
    assert dnc_remove(phone="+14155550100") is False


# -- campaign contacts of an added number -----------------------------------------------------


def test_add_takes_waiting_campaign_contacts_out_and_leaves_the_others(enrol):
    pending = enrol("+14155550100", S.PENDING)
    retry = enrol("+14155550100", S.RETRY_SCHEDULED, list_name="Other list")
    in_progress = enrol("+14155550100", S.IN_PROGRESS, list_name="Third list")
    completed = enrol("+14155550100", S.COMPLETED, list_name="Fourth list")
    other_number = enrol("+14155550101", S.PENDING)

    dnc_add(phone="+14155550100")

    assert statuses(pending, retry, in_progress, completed, other_number) == [
        S.DO_NOT_CALL,
        S.DO_NOT_CALL,
        S.IN_PROGRESS,
        S.COMPLETED,
        S.PENDING,
    ]
    assert CampaignContact.objects.get(pk=pending.pk).note == services.BLOCKED_NOTE


def test_adding_a_number_already_listed_still_takes_new_campaign_contacts_out(enrol):
    dnc_add(phone="+14155550100")
    enrolled_later = enrol("+14155550100", S.PENDING)

    dnc_add(phone="+14155550100")

    assert statuses(enrolled_later) == [S.DO_NOT_CALL]


def test_the_add_and_the_campaign_contacts_change_in_one_transaction(enrol, monkeypatch):
    pending = enrol("+14155550100", S.PENDING)

    def fail(phones):
        raise RuntimeError("database went away")

    monkeypatch.setattr(services, "_block_campaign_contacts", fail)
    with pytest.raises(RuntimeError):
        dnc_add(phone="+14155550100")

    assert not dnc_contains("+14155550100")
    assert statuses(pending) == [S.PENDING]


def test_remove_does_not_put_campaign_contacts_back(enrol):
    pending = enrol("+14155550100", S.PENDING)
    dnc_add(phone="+14155550100")

    dnc_remove(phone="+14155550100")

    assert statuses(pending) == [S.DO_NOT_CALL]


# -- CSV import -------------------------------------------------------------------------------


def test_import_csv_adds_numbers_and_reports_bad_rows_by_line(enrol):
    dnc_add(phone="+14155550101", reason="old reason")
    waiting = enrol("+14155550102", S.PENDING)
    content = (
        "\ufeffPhone;Reason\n"  # line 1: BOM, semicolons, capitals
        "+14155550100;complained\n"  # 2: new
        "(415) 555-0101;\n"  # 3: already listed, its reason kept
        "nonsense;x\n"  # 4: invalid
        "+14155550102;asked\n"  # 5: new, has a waiting campaign contact
        "+1 415 555 0100;again\n"  # 6: repeated in the file: its reason wins
        ";no phone\n"  # 7: invalid
    )

    result = dnc_import_csv(file=upload(content))

    assert result["rows_read"] == 6
    assert (result["added"], result["existing"], result["invalid"]) == (2, 2, 2)
    assert result["campaign_contacts_blocked"] == 1
    assert [error["line"] for error in result["errors"]] == [4, 7]
    assert "nonsense" in result["errors"][0]["reason"]
    assert result["errors"][1]["reason"] == "phone is empty."
    entries = {entry.phone: entry for entry in DoNotCall.objects.all()}
    assert sorted(entries) == ["+14155550100", "+14155550101", "+14155550102"]
    assert entries["+14155550100"].reason == "again"
    assert entries["+14155550100"].source == DoNotCall.Source.CSV
    assert entries["+14155550101"].reason == "old reason"
    assert statuses(waiting) == [S.DO_NOT_CALL]


def test_import_csv_in_several_batches(monkeypatch):
    monkeypatch.setattr(services, "BATCH_SIZE", 2)
    content = "phone\n" + "".join(f"+1415555{index:04d}\n" for index in range(100, 107))
    content += "+14155550100\n"  # a repeat in a later batch

    result = dnc_import_csv(file=upload(content))

    assert (result["rows_read"], result["added"], result["existing"]) == (8, 7, 1)
    assert DoNotCall.objects.count() == 7


def test_import_csv_without_a_phone_column_fails():
    with pytest.raises(CsvFileError) as error:
        dnc_import_csv(file=upload("number,reason\n+14155550100,x\n"))
    assert "no 'phone' column" in error.value.message
    assert not DoNotCall.objects.exists()


def test_import_csv_that_is_not_utf8_fails():
    with pytest.raises(ValidationError) as error:
        dnc_import_csv(file=upload("phone,reason\n+14155550100,Zoë\n".encode("cp1252")))
    assert "not UTF-8" in error.value.messages[0]
    assert not DoNotCall.objects.exists()


def test_import_csv_leaves_the_uploaded_file_open():
    file = upload("phone\n+14155550100\n")
    dnc_import_csv(file=file)
    assert not file.closed
