"""CSV imports into contact lists, and single contact upserts (campaigns.services.contacts)."""

import time
import tracemalloc
from datetime import timedelta
from unittest import mock

import phonenumbers
import psycopg
import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone

from campaigns import tasks
from campaigns.models import Contact, ContactImport, ContactList
from campaigns.services import contacts as services
from campaigns.services import imports
from campaigns.services.contacts import (
    contact_import_run,
    contact_import_start,
    contact_upsert,
    header_key,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("var_dir")]


def start(contact_list: ContactList, content: bytes | str, name="contacts.csv") -> ContactImport:
    data = content.encode() if isinstance(content, str) else content
    return contact_import_start(
        contact_list=contact_list, uploaded_file=SimpleUploadedFile(name, data), file_name=name
    )


def run(contact_list: ContactList, content: bytes | str, name="contacts.csv") -> ContactImport:
    return contact_import_run(import_id=start(contact_list, content, name).pk)


def contacts(contact_list: ContactList) -> dict[str, Contact]:
    return {contact.phone: contact for contact in contact_list.contacts.all()}


# -- reading the file -------------------------------------------------------------------------


def test_header_variants_bom_and_national_numbers(contact_list, var_dir):
    # given: a BOM, header names in any case and spacing, national and formatted numbers
    content = (
        "\ufeff Phone Number ,FIRST NAME,last-name,External ID,Time Zone,Appointment Date,Notes\r\n"
        "(415) 555-0100,Ada,Lovelace,crm-1,America/New_York,2026-01-05,\r\n"
        "+1 212 555 0101,Grace,Hopper,crm-2,,2026-01-06,VIP\r\n"
    )

    # when
    record = run(contact_list, content)

    # then
    assert record.status == ContactImport.Status.DONE
    assert (record.rows_read, record.imported, record.merged, record.invalid) == (2, 2, 0, 0)
    assert record.errors == []
    assert record.finished_at is not None
    found = contacts(contact_list)
    ada = found["+14155550100"]
    assert (ada.first_name, ada.last_name, ada.external_id) == ("Ada", "Lovelace", "crm-1")
    assert ada.timezone == "America/New_York"
    assert ada.variables == {"appointment_date": "2026-01-05"}  # the empty "Notes" is dropped
    grace = found["+12125550101"]
    assert grace.timezone == ""
    assert grace.variables == {"appointment_date": "2026-01-06", "notes": "VIP"}
    # the stored upload is removed once imported
    assert list((var_dir / "uploads").iterdir()) == []


def test_header_keys():
    assert header_key(" Phone ") == "phone"
    assert header_key("PHONE NUMBER") == "phone"
    assert header_key("First Name") == "first_name"
    assert header_key("first-name") == "first_name"
    assert header_key("Prénom") == "prenom"
    assert header_key("2nd visit") == "_2nd_visit"


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_semicolon_and_tab_delimiters(contact_list, delimiter):
    content = delimiter.join(["phone", "first_name", "city"]) + "\n"
    content += delimiter.join(["+14155550100", "Ada", "Paris, France"]) + "\n"

    record = run(contact_list, content)

    assert record.status == ContactImport.Status.DONE
    ada = contacts(contact_list)["+14155550100"]
    assert ada.first_name == "Ada"
    assert ada.variables == {"city": "Paris, France"}


def test_quoted_cells_keep_their_delimiters_and_newlines(contact_list):
    content = (
        'phone,first_name,note\n+14155550100,"Lovelace, Ada","two\nlines"\n+14155550101,Bob,\n'
    )

    record = run(contact_list, content)

    assert record.rows_read == 2
    ada = contacts(contact_list)["+14155550100"]
    assert ada.first_name == "Lovelace, Ada"
    assert ada.variables == {"note": "two\nlines"}


def test_invalid_rows_are_reported_with_line_and_reason_and_valid_rows_import(contact_list):
    content = (
        "phone,first_name,timezone\n"  # line 1
        "+14155550100,Ada,Europe/Paris\n"  # 2: valid
        "not a number,Bob,\n"  # 3: bad phone
        "\n"  # 4: blank, skipped
        "+14155550102,Cy,Mars/Olympus\n"  # 5: bad time zone
        ",Dee,\n"  # 6: no phone
        "+1415,Eve,\n"  # 7: too short
        "+14155550103,Fay,,surplus\n"  # 8: one cell too many
        "+14155550104\n"  # 9: too few cells is fine
        "+14155550105,Gus,america/chicago\n"  # 10: time zone in another case: fine
    )

    record = run(contact_list, content)

    assert record.status == ContactImport.Status.DONE
    assert (record.rows_read, record.imported, record.merged, record.invalid) == (8, 3, 0, 5)
    errors = {error["line"]: error["reason"] for error in record.errors}
    assert sorted(errors) == [3, 5, 6, 7, 8]
    assert "not a number" in errors[3] and errors[3].startswith("phone")
    assert "Mars/Olympus" in errors[5] and "time zone" in errors[5]
    assert errors[6] == "phone is empty."
    assert "+1415" in errors[7] and "not a valid phone number" in errors[7]
    assert "4 cells" in errors[8] and "3 columns" in errors[8]
    found = contacts(contact_list)
    assert sorted(found) == ["+14155550100", "+14155550104", "+14155550105"]
    assert found["+14155550105"].timezone == "America/Chicago"


def test_line_numbers_count_physical_lines_of_quoted_cells(contact_list):
    content = 'phone,note\n+14155550100,"a\nb\nc"\nbad,x\n'

    record = run(contact_list, content)

    assert record.errors == [{"line": 5, "reason": mock.ANY}]


def test_too_long_values_make_the_row_invalid(contact_list):
    content = f"phone,first_name\n+14155550100,{'x' * 101}\n+14155550101,Bob\n"

    record = run(contact_list, content)

    assert record.invalid == 1
    assert record.errors[0]["line"] == 2
    assert "first_name is longer than 100" in record.errors[0]["reason"]
    assert list(contacts(contact_list)) == ["+14155550101"]


def test_duplicates_within_the_file_are_merged(contact_list):
    content = (
        "phone,first_name,last_name,city,plan\n"
        "+14155550100,Ada,,London,gold\n"
        "+14155550101,Bob,Smith,,\n"
        "(415) 555-0100,,Lovelace,Paris,\n"  # the same number, formatted otherwise
    )

    record = run(contact_list, content)

    assert (record.rows_read, record.imported, record.merged, record.invalid) == (3, 2, 1, 0)
    ada = contacts(contact_list)["+14155550100"]
    assert (ada.first_name, ada.last_name) == ("Ada", "Lovelace")
    assert ada.variables == {"city": "Paris", "plan": "gold"}


def test_duplicates_across_batches_are_merged_and_progress_is_saved_per_batch(
    contact_list, monkeypatch
):
    # given: batches of 2 rows, and a record of what the import row holds after each batch
    monkeypatch.setattr(services, "BATCH_SIZE", 2)
    seen = []
    write_batch = services._write_batch

    def spy(record_id, *args):
        write_batch(record_id, *args)
        seen.append(
            ContactImport.objects.values_list(
                "status", "rows_read", "imported", "merged", "invalid"
            ).get(pk=record_id)
        )

    monkeypatch.setattr(services, "_write_batch", spy)
    content = (
        "phone,first_name,city\n"
        "+14155550100,Ada,London\n"
        "+14155550101,Bob,\n"
        "bad,Cy,\n"
        "+14155550100,,Paris\n"  # batch 2: repeats batch 1's number
        "+14155550102,Dee,\n"
    )

    # when
    record = run(contact_list, content)

    # then
    assert seen == [
        ("running", 2, 2, 0, 0),
        ("running", 4, 2, 1, 1),
        ("running", 5, 3, 1, 1),
    ]
    assert (record.status, record.rows_read, record.imported, record.merged, record.invalid) == (
        "done",
        5,
        3,
        1,
        1,
    )
    ada = contacts(contact_list)["+14155550100"]
    assert ada.first_name == "Ada"
    assert ada.variables == {"city": "Paris"}


def test_only_the_first_errors_are_kept_but_all_are_counted(contact_list, monkeypatch):
    monkeypatch.setattr(imports, "MAX_ERRORS", 3)
    content = "phone\n" + "bad\n" * 5 + "+14155550100\n"

    record = run(contact_list, content)

    assert record.invalid == 5
    assert [error["line"] for error in record.errors] == [2, 3, 4]
    assert record.imported == 1


def test_reimport_updates_existing_contacts(contact_list):
    run(contact_list, "phone,first_name,last_name,plan\n+14155550100,Ada,Lovelace,gold\n")
    before = contacts(contact_list)["+14155550100"]

    record = run(
        contact_list,
        "phone,first_name,last_name,tier\n+14155550100,Augusta,,A\n+14155550101,Bob,,\n",
    )

    assert (record.imported, record.merged) == (2, 0)
    after = contacts(contact_list)["+14155550100"]
    assert after.pk == before.pk
    assert (after.first_name, after.last_name) == ("Augusta", "Lovelace")
    assert after.variables == {"plan": "gold", "tier": "A"}
    assert Contact.objects.count() == 2


def test_contacts_of_another_list_are_not_touched(contact_list):
    other = ContactList.objects.create(name="Other")
    Contact.objects.create(contact_list=other, phone="+14155550100", first_name="Zed")

    run(contact_list, "phone,first_name\n+14155550100,Ada\n")

    assert Contact.objects.get(contact_list=other).first_name == "Zed"
    assert contacts(contact_list)["+14155550100"].first_name == "Ada"


# -- file-level failures ----------------------------------------------------------------------


def test_a_file_without_a_phone_column_fails(contact_list):
    record = run(contact_list, "mobile,first_name\n+14155550100,Ada\n")

    assert record.status == ContactImport.Status.FAILED
    assert "no 'phone' column" in record.message
    assert "'mobile', 'first_name'" in record.message
    assert record.finished_at is not None
    assert not Contact.objects.exists()


def test_a_file_that_is_not_utf8_fails_clearly(contact_list):
    content = "phone,first_name\n+14155550100,Ada\n+14155550101,Zoë\n".encode("latin-1")

    record = run(contact_list, content)

    assert record.status == ContactImport.Status.FAILED
    assert "not UTF-8" in record.message
    assert "line 3" in record.message
    assert not Contact.objects.exists()  # refused before anything was imported


@pytest.mark.parametrize("content", [b"", b"\xef\xbb\xbf", b"\n\n"])
def test_an_empty_file_fails(contact_list, content):
    record = run(contact_list, content)

    assert record.status == ContactImport.Status.FAILED
    assert "empty" in record.message


def test_a_header_without_rows_is_done_with_nothing(contact_list):
    record = run(contact_list, "phone,first_name\n")

    assert record.status == ContactImport.Status.DONE
    assert (record.rows_read, record.imported) == (0, 0)


def test_an_unreadable_line_stops_the_import_after_the_rows_before_it(contact_list):
    # given: a cell bigger than the csv module accepts, on line 3
    content = f"phone,note\n+14155550100,ok\n+14155550101,{'x' * 200_000}\n+14155550102,\n"

    record = run(contact_list, content)

    assert record.status == ContactImport.Status.FAILED
    assert "Line 3 cannot be read as CSV" in record.message
    assert "1 contacts imported" in record.message
    assert list(contacts(contact_list)) == ["+14155550100"]


def test_a_missing_stored_file_fails_with_a_hint(contact_list, var_dir):
    record = start(contact_list, "phone\n+14155550100\n")
    (var_dir / record.stored_path).unlink()

    record = contact_import_run(import_id=record.pk)

    assert record.status == ContactImport.Status.FAILED
    assert "upload it again" in record.message


def test_an_unexpected_error_marks_the_import_failed_and_is_raised(contact_list, monkeypatch):
    record = start(contact_list, "phone\n+14155550100\n")

    with (
        mock.patch.object(
            services, "_upsert_by_copy", side_effect=RuntimeError("at /srv/db password=x")
        ),
        pytest.raises(RuntimeError),
    ):
        contact_import_run(import_id=record.pk)

    record.refresh_from_db()
    assert record.status == ContactImport.Status.FAILED
    assert "unexpected error (RuntimeError)" in record.message
    assert "password" not in record.message  # the error's text stays in the workers' log


def test_the_copy_upsert_merges_exactly_as_the_orm_upsert(contact_list):
    # given: two lists holding the same contacts, one written a while before this run
    lists = [contact_list, ContactList.objects.create(name="Twin")]
    since = timezone.now()
    for target in lists:
        Contact.objects.create(
            contact_list=target, phone="+14155550100", first_name="Old", last_name="Kept",
            variables={"city": "Rome", "tier": "1"},
        )  # fmt: skip
    Contact.objects.filter(phone="+14155550100").update(created_at=since - timedelta(hours=1))
    batches = [
        {
            "+14155550100": ({**EMPTY, "first_name": "Ada"}, {"city": "Paris"}),
            "+14155550101": ({**EMPTY, "external_id": "crm-1"}, {"plan": "gold"}),
        },
        {"+14155550101": ({**EMPTY, "timezone": "Europe/Paris"}, {"plan": "silver"})},
    ]

    # when: the same batches through each way of writing
    repeats = {
        upsert.__name__: [upsert(target.pk, batch, since=since) for batch in batches]
        for upsert, target in zip(
            (services._upsert_by_orm, services._upsert_by_copy), lists, strict=True
        )
    }

    # then: the same rows and the same count of repeats (batch 2 repeats a number of batch 1)
    assert repeats == {"_upsert_by_orm": [0, 1], "_upsert_by_copy": [0, 1]}
    fields = ("phone", "first_name", "last_name", "external_id", "timezone", "variables")
    written = [list(target.contacts.order_by("phone").values_list(*fields)) for target in lists]
    assert (
        written[0]
        == written[1]
        == [
            ("+14155550100", "Ada", "Kept", "", "", {"city": "Paris", "tier": "1"}),
            ("+14155550101", "", "", "crm-1", "Europe/Paris", {"plan": "silver"}),
        ]
    )


EMPTY = dict.fromkeys(services.CONTACT_FIELDS, "")


# -- starting, the task, running twice --------------------------------------------------------


def test_start_stores_the_upload_under_a_name_of_its_own_and_enqueues_on_commit(
    contact_list, var_dir, django_capture_on_commit_callbacks
):
    with (
        mock.patch.object(tasks.import_contacts, "delay") as delay,
        django_capture_on_commit_callbacks(execute=True) as callbacks,
    ):
        record = start(contact_list, "phone\n+14155550100\n", name="../../etc/passwd")

    assert len(callbacks) == 1
    delay.assert_called_once_with(record.pk)
    assert record.status == ContactImport.Status.PENDING
    assert record.file_name == "passwd"
    stored = var_dir / record.stored_path
    assert stored.parent == var_dir / "uploads"
    assert "passwd" not in stored.name
    assert stored.read_bytes() == b"phone\n+14155550100\n"


def test_the_task_runs_the_import_and_leaves_a_done_import_alone(contact_list):
    record = start(contact_list, "phone,first_name\n+14155550100,Ada\n")

    assert tasks.import_contacts(record.pk) == "done"
    Contact.objects.update(first_name="Changed since")
    assert tasks.import_contacts(record.pk) == "done"

    assert Contact.objects.get().first_name == "Changed since"
    assert tasks.import_contacts.acks_late and tasks.import_contacts.reject_on_worker_lost
    assert tasks.import_contacts.name == "campaigns.import_contacts"
    assert (tasks.import_contacts.soft_time_limit, tasks.import_contacts.time_limit) == (1800, 2000)


def test_the_task_of_a_deleted_import_does_nothing():
    assert tasks.import_contacts(999_999) == "missing"


def test_a_run_whose_worker_was_lost_starts_over(contact_list):
    record = start(contact_list, "phone\n+14155550100\n+14155550101\n")
    # A worker died mid-way: status running, counters half-way, some rows already written.
    ContactImport.objects.filter(pk=record.pk).update(status="running", rows_read=1, imported=1)
    Contact.objects.create(contact_list=contact_list, phone="+14155550100")

    record = contact_import_run(import_id=record.pk)

    assert (record.status, record.rows_read, record.imported, record.merged) == ("done", 2, 2, 0)
    assert Contact.objects.count() == 2


def test_a_second_concurrent_run_of_the_same_import_returns_at_once(contact_list):
    record = start(contact_list, "phone\n+14155550100\n")
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
        other.execute("SELECT pg_advisory_lock(%s, %s)", [services._IMPORT_LOCK_CLASS, record.pk])
        result = contact_import_run(import_id=record.pk)
        assert result.status == ContactImport.Status.PENDING
        assert not Contact.objects.exists()
        other.execute("SELECT pg_advisory_unlock(%s, %s)", [services._IMPORT_LOCK_CLASS, record.pk])

    assert contact_import_run(import_id=record.pk).status == ContactImport.Status.DONE


# -- size -------------------------------------------------------------------------------------

AREAS = (212, 310, 415, 617, 702, 312, 206, 305, 404, 512)
EXCHANGES = (234, 345, 456, 567, 678, 789, 823, 934, 245, 356)


def generated_phone(index: int) -> str:
    """Distinct valid US numbers for index < 100,000 (area, exchange and line vary)."""
    area = AREAS[index % 10]
    exchange = EXCHANGES[(index // 10) % 10]
    return f"+1{area}{exchange}{index // 100:04d}"


def write_generated_csv(path, rows: int) -> dict[str, int]:
    """A CSV of `rows` rows: mostly new numbers, every 1000th a repeat, every 1000th invalid."""
    expected = {"rows_read": rows, "imported": 0, "merged": 0, "invalid": 0}
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write("phone,first_name,last_name,external_id,plan\n")
        lines = []
        for index in range(rows):
            if index % 1000 == 999:
                phone, expected["merged"] = generated_phone(index - 1), expected["merged"] + 1
            elif index % 1000 == 500:
                phone, expected["invalid"] = "12345", expected["invalid"] + 1
            else:
                phone, expected["imported"] = generated_phone(index), expected["imported"] + 1
            lines.append(f"{phone},First{index},Last{index},ext-{index},plan-{index % 7}\n")
            if len(lines) == 5000:
                out.write("".join(lines))
                lines = []
        out.write("".join(lines))
    return expected


def test_the_generated_numbers_are_valid():
    for index in range(0, 100_000, 7):
        assert phonenumbers.is_valid_number(phonenumbers.parse(generated_phone(index)))


def generated_import(contact_list: ContactList, var_dir, rows: int):
    """(a pending import of a generated file, the counters it must end with)."""
    (var_dir / "uploads").mkdir(exist_ok=True)
    path = var_dir / "uploads" / f"generated-{contact_list.pk}-{rows}.csv"
    expected = write_generated_csv(path, rows)
    record = ContactImport.objects.create(
        contact_list=contact_list, file_name=path.name, stored_path=f"uploads/{path.name}"
    )
    return record, expected


def counters(record: ContactImport) -> dict[str, int]:
    return {name: getattr(record, name) for name in ("rows_read", "imported", "merged", "invalid")}


def test_a_100k_row_import(contact_list, var_dir):
    record, expected = generated_import(contact_list, var_dir, 100_000)

    started = time.perf_counter()
    record = contact_import_run(import_id=record.pk)
    elapsed = time.perf_counter() - started
    print(f"imported {record.rows_read} rows ({record.imported} contacts) in {elapsed:.1f} s")

    assert record.status == ContactImport.Status.DONE
    assert counters(record) == expected
    assert contact_list.contacts.count() == 99_800
    assert len(record.errors) == 100
    sample = Contact.objects.get(contact_list=contact_list, phone=generated_phone(12_345))
    assert (sample.first_name, sample.external_id) == ("First12345", "ext-12345")
    assert sample.variables == {"plan": f"plan-{12_345 % 7}"}
    repeated = Contact.objects.get(contact_list=contact_list, phone=generated_phone(998))
    assert repeated.first_name == "First999"  # the later row won


def test_memory_stays_bounded_whatever_the_file_size(contact_list, var_dir, monkeypatch):
    monkeypatch.setattr(services, "BATCH_SIZE", 250)
    warm_up, _ = generated_import(ContactList.objects.create(name="warm-up"), var_dir, 500)
    contact_import_run(import_id=warm_up.pk)  # fills the caches (phone metadata, time zones)

    peaks = {}
    for rows in (2_000, 16_000):
        record, expected = generated_import(
            ContactList.objects.create(name=f"size-{rows}"), var_dir, rows
        )
        tracemalloc.start()
        try:
            record = contact_import_run(import_id=record.pk)
            peaks[rows] = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert counters(record) == expected

    print(f"peak traced memory by rows imported: {peaks}")
    # Eight times the rows, about the same peak (one batch at a time).
    assert peaks[16_000] < peaks[2_000] * 1.5, peaks


# -- single contacts --------------------------------------------------------------------------


def test_upsert_creates_then_updates_by_number(contact_list):
    created = contact_upsert(
        contact_list=contact_list,
        phone="(415) 555-0100",
        first_name="Ada",
        variables={"plan": "gold"},
    )
    assert created.phone == "+14155550100"

    updated = contact_upsert(
        contact_list=contact_list,
        phone="+14155550100",
        last_name="Lovelace",
        timezone="europe/london",
        variables={"tier": "A"},
    )

    assert updated.pk == created.pk
    updated.refresh_from_db()
    assert (updated.first_name, updated.last_name) == ("Ada", "Lovelace")
    assert updated.timezone == "Europe/London"
    assert updated.variables == {"plan": "gold", "tier": "A"}


def test_upsert_by_external_id_can_change_the_number(contact_list):
    first = contact_upsert(contact_list=contact_list, phone="+14155550100", external_id="crm-7")

    moved = contact_upsert(contact_list=contact_list, phone="+14155550199", external_id="crm-7")

    assert moved.pk == first.pk
    assert Contact.objects.get().phone == "+14155550199"


def test_upsert_with_an_unknown_external_id_matches_by_number(contact_list):
    first = contact_upsert(contact_list=contact_list, phone="+14155550100")

    again = contact_upsert(contact_list=contact_list, phone="+14155550100", external_id="crm-9")

    assert again.pk == first.pk
    assert Contact.objects.get().external_id == "crm-9"


def test_upsert_refuses_a_number_held_by_another_contact(contact_list):
    contact_upsert(contact_list=contact_list, phone="+14155550100", external_id="crm-1")
    contact_upsert(contact_list=contact_list, phone="+14155550101", external_id="crm-2")

    with pytest.raises(ValidationError) as error:
        contact_upsert(contact_list=contact_list, phone="+14155550101", external_id="crm-1")

    assert "phone" in error.value.message_dict


def test_upsert_validates(contact_list):
    with pytest.raises(ValidationError) as error:
        contact_upsert(contact_list=contact_list, phone="not a number")
    assert "phone" in error.value.message_dict

    with pytest.raises(ValidationError) as error:
        contact_upsert(contact_list=contact_list, phone="+14155550100", timezone="Mars/Base")
    assert "timezone" in error.value.message_dict

    with pytest.raises(ValidationError) as error:
        contact_upsert(contact_list=contact_list, phone="+14155550100", first_name="x" * 101)
    assert "first_name" in error.value.message_dict
    assert not Contact.objects.exists()


def test_same_number_in_two_lists_makes_two_contacts(contact_list):
    other = ContactList.objects.create(name="Other")
    a = contact_upsert(contact_list=contact_list, phone="+14155550100")
    b = contact_upsert(contact_list=other, phone="+14155550100")
    assert a.pk != b.pk


def test_uploads_over_the_size_limit_are_refused(db, settings):
    from django.core.exceptions import ValidationError
    from django.core.files.uploadedfile import SimpleUploadedFile

    from campaigns.models import ContactImport, ContactList
    from campaigns.services.contacts import contact_import_start

    settings.CONTACT_IMPORT_MAX_BYTES = 10
    contact_list = ContactList.objects.create(name="too big")
    upload = SimpleUploadedFile("big.csv", b"phone\n+14155550150\n")
    with pytest.raises(ValidationError, match="limited to"):
        contact_import_start(contact_list=contact_list, uploaded_file=upload, file_name="big.csv")
    assert not ContactImport.objects.exists()
