"""The do-not-call list (campaigns.services.dnc): add, remove, lookup, CSV import (in the
background, for uploads), and the campaign contacts an added number takes out of their
campaigns."""

import io
from unittest import mock

import psycopg
import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from campaigns import tasks
from campaigns.models import (
    Campaign,
    CampaignContact,
    Contact,
    ContactList,
    DoNotCall,
    DoNotCallImport,
)
from campaigns.services import dnc as services
from campaigns.services.contacts import CsvFileError
from campaigns.services.dnc import (
    dnc_add,
    dnc_contains,
    dnc_import_csv,
    dnc_import_run,
    dnc_import_start,
    dnc_remove,
)
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


# -- CSV uploads, added by a worker -----------------------------------------------------------


def start(content: str | bytes, name: str = "dnc.csv") -> DoNotCallImport:
    return dnc_import_start(uploaded_file=upload(content), file_name=name)


def test_start_stores_the_upload_and_enqueues_it_on_commit(
    var_dir, django_capture_on_commit_callbacks
):
    with (
        mock.patch.object(tasks.import_do_not_call, "delay") as delay,
        django_capture_on_commit_callbacks(execute=True) as callbacks,
    ):
        record = start("phone\n+14155550100\n", name="../../etc/passwd")

    assert len(callbacks) == 1
    delay.assert_called_once_with(record.pk)
    assert (record.status, record.file_name) == (DoNotCallImport.Status.PENDING, "passwd")
    stored = var_dir / record.stored_path
    assert stored.parent == var_dir / "uploads" and "passwd" not in stored.name
    assert stored.read_bytes() == b"phone\n+14155550100\n"
    assert not DoNotCall.objects.exists()


def test_a_file_over_the_cap_is_refused_before_it_is_stored(var_dir, settings):
    settings.DNC_IMPORT_MAX_BYTES = 10

    with pytest.raises(ValidationError, match=r"limited to .*DNC_IMPORT_MAX_BYTES"):
        start("phone\n+14155550100\n")

    # a stream whose size is not known is stopped while it is copied
    stream = io.BytesIO(b"phone\n+14155550100\n")
    with pytest.raises(ValidationError, match="DNC_IMPORT_MAX_BYTES"):
        dnc_import_start(uploaded_file=stream, file_name="stream.csv")

    assert not DoNotCallImport.objects.exists()
    assert not any((var_dir / "uploads").glob("*"))


def test_the_task_adds_the_numbers_and_reports_each_bad_row(var_dir, enrol):
    waiting = enrol("+14155550102", S.PENDING)
    record = start("phone,reason\n+14155550100,asked\nnonsense,x\n+14155550102,\n;none\n")

    assert tasks.import_do_not_call(record.pk) == "done"

    record.refresh_from_db()
    assert (record.rows_read, record.added, record.existing, record.invalid) == (4, 2, 0, 2)
    assert record.campaign_contacts_blocked == 1
    assert [error["line"] for error in record.errors] == [3, 5]
    assert record.message == (
        "4 rows read: 2 numbers added, 0 already on the list, 2 invalid; 1 waiting campaign "
        "contacts were set to do-not-call."
    )
    assert record.finished_at is not None
    assert DoNotCall.objects.get(phone="+14155550100").source == DoNotCall.Source.CSV
    assert statuses(waiting) == [S.DO_NOT_CALL]
    assert not (var_dir / record.stored_path).exists()
    # run again (a redelivered task): a finished import is left alone
    DoNotCall.objects.all().delete()
    assert tasks.import_do_not_call(record.pk) == "done"
    assert not DoNotCall.objects.exists()


def test_the_task_is_named_routed_and_bounded():
    task = tasks.import_do_not_call
    assert task.name == "campaigns.import_do_not_call"
    assert task.acks_late and task.reject_on_worker_lost
    assert (task.soft_time_limit, task.time_limit) == (1800, 2000)
    assert tasks.import_do_not_call(999_999) == "missing"


def test_progress_is_saved_with_each_batch(var_dir, monkeypatch):
    monkeypatch.setattr(services, "BATCH_SIZE", 2)
    record = start("phone\n" + "".join(f"+1415555{index:04d}\n" for index in range(100, 105)))
    seen = []
    write_batch = services._write_batch

    def spy(*args):
        write_batch(*args)
        row = DoNotCallImport.objects.get(pk=record.pk)
        seen.append((row.status, row.rows_read, row.added))

    monkeypatch.setattr(services, "_write_batch", spy)

    record = dnc_import_run(import_id=record.pk)

    assert seen == [("running", 2, 2), ("running", 4, 4), ("running", 5, 5)]
    assert (record.status, record.added) == (DoNotCallImport.Status.DONE, 5)


def test_an_unreadable_file_fails_the_import_with_the_reason(var_dir):
    record = dnc_import_run(import_id=start("number\n+14155550100\n").pk)

    assert record.status == DoNotCallImport.Status.FAILED
    assert "no 'phone' column" in record.message
    assert not DoNotCall.objects.exists()


def test_a_line_that_cannot_be_read_stops_the_import_after_the_rows_before_it(var_dir):
    # a cell bigger than the csv module accepts, on line 3
    content = f"phone,reason\n+14155550100,ok\n+14155550101,{'x' * 200_000}\n+14155550102,\n"

    record = dnc_import_run(import_id=start(content).pk)

    assert record.status == DoNotCallImport.Status.FAILED
    assert "cannot be read as CSV" in record.message
    assert "Before it: 1 rows read: 1 numbers added" in record.message
    assert list(DoNotCall.objects.values_list("phone", flat=True)) == ["+14155550100"]


def test_a_missing_stored_file_fails_with_a_hint(var_dir):
    record = start("phone\n+14155550100\n")
    (var_dir / record.stored_path).unlink()

    record = dnc_import_run(import_id=record.pk)

    assert record.status == DoNotCallImport.Status.FAILED
    assert "upload it again" in record.message


def test_a_run_whose_worker_was_lost_starts_over(var_dir):
    record = start("phone\n+14155550100\n+14155550101\n")
    # A worker died mid-way: status running, counters half-way, one number already added.
    DoNotCallImport.objects.filter(pk=record.pk).update(status="running", rows_read=1, added=1)
    DoNotCall.objects.create(phone="+14155550100", source=DoNotCall.Source.CSV)

    record = dnc_import_run(import_id=record.pk)

    assert (record.status, record.rows_read, record.added, record.existing) == ("done", 2, 1, 1)
    assert DoNotCall.objects.count() == 2


def test_a_second_concurrent_run_of_the_same_import_returns_at_once(var_dir):
    record = start("phone\n+14155550100\n")
    settings_dict = connection.settings_dict
    # Another worker holds the import's lock (its own database session).
    with psycopg.connect(
        host=settings_dict["HOST"] or "127.0.0.1",
        port=settings_dict["PORT"] or 5432,
        user=settings_dict["USER"],
        password=settings_dict["PASSWORD"] or None,
        dbname=settings_dict["NAME"],
        autocommit=True,
    ) as other:
        lock = [services._IMPORT_LOCK_CLASS, record.pk]
        other.execute("SELECT pg_advisory_lock(%s, %s)", lock)
        assert dnc_import_run(import_id=record.pk).status == DoNotCallImport.Status.PENDING
        assert not DoNotCall.objects.exists()
        other.execute("SELECT pg_advisory_unlock(%s, %s)", lock)

    assert dnc_import_run(import_id=record.pk).status == DoNotCallImport.Status.DONE
