"""Contacts: CSV imports into a contact list, single contacts and many at once (upserts), and
deleting lists and contacts.

Rules kept here:
- an import streams the file (bytes -> UTF-8 text -> csv.DictReader) and writes it in batches of
  `BATCH_SIZE` rows, each batch in its own transaction together with the import's counters, so
  progress is visible while it runs and memory stays bounded whatever the file's size;
- a file-level problem (empty, not UTF-8, no phone column) fails the whole import with a message;
  a row-level problem (bad phone, unknown time zone, ...) only skips that row, reported with its
  line number (header = line 1) and the reason;
- one contact per number in a list: a repeated number is merged (the later row's non-empty
  fields win, variables merge); importing again updates the existing contacts the same way;
- header names are read case-insensitively (`First Name`, `first-name` and `FIRST_NAME` are the
  same column); columns other than the contact's own fields become `variables`, under the same
  normalised name (`Appointment Date` -> `appointment_date`, usable as `{{appointment_date}}`);
- a list or contact that a started campaign has used stays: the campaign keeps its contacts,
  their attempts and calls (every call stays accounted for).
"""

import codecs
import contextlib
import csv
import functools
import io
import itertools
import json
import re
import unicodedata
import zoneinfo
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from campaigns.models import Campaign, CampaignContact, Contact, ContactImport, ContactList
from campaigns.services.imports import (
    MAX_ERRORS,
    CsvFileError,
    Progress,
    display_name,
    import_run,
    stored_file,
    upload_discard,
    upload_store,
)
from campaigns.states import ACTIVE_CAMPAIGN_STATUSES
from telephony.callee_regions import RegionError, parse_region
from telephony.validators import normalize_phone_number

_Batch = dict[str, tuple[dict[str, str], dict[str, Any]]]  # phone -> (fields, variables)
BATCH_SIZE = 2000  # rows per transaction (and per progress update)
BULK_BATCH = 500  # bulk upsert: rows per transaction (each row in its own savepoint)
CONTACT_FIELDS = ("first_name", "last_name", "external_id", "timezone", "region")
# Consent to AI calls: typed (a yes/no, a time), merged as the text fields are (a value given
# wins, an empty cell keeps what is stored: an explicit "no" does revoke).
CONSENT_FIELDS = ("consent", "consent_at", "consent_source", "consent_evidence")
KNOWN_COLUMNS = frozenset({"phone", *CONTACT_FIELDS, *CONSENT_FIELDS})
CONSENT_WORDS = {"yes": True, "y": True, "true": True, "1": True, "given": True,
                 "no": False, "n": False, "false": False, "0": False}  # fmt: skip
MAX_LENGTHS = {name: Contact._meta.get_field(name).max_length for name in CONTACT_FIELDS}
# Other spellings of the known columns, after normalisation.
HEADER_ALIASES = {
    "phone_number": "phone",
    "phonenumber": "phone",
    "telephone": "phone",
    "firstname": "first_name",
    "lastname": "last_name",
    "externalid": "external_id",
    "time_zone": "timezone",
    "tz": "timezone",
}
DELIMITERS = (",", ";", "\t")
_IMPORT_LOCK_CLASS = 7_310_301  # pg_try_advisory_lock(class, import id): one runner per import
_EXTRA = "\x00extra"  # DictReader's restkey: cells beyond the header (no header can be this)
_QUOTED = re.compile(r'"[^"]*"')


# -- reading CSV files (also used by the do-not-call import) ----------------------------------


@dataclass(frozen=True, slots=True)
class CsvRow:
    line: int  # line number in the file (the header is line 1)
    values: dict[str, str]  # normalised column name -> stripped cell ("" when missing)
    extra_cells: int  # non-empty cells beyond the header's columns


def header_key(name: str) -> str:
    """A column name as matched and stored: lower case, ASCII, `_` between words."""
    text = unicodedata.normalize("NFKD", name or "").encode("ascii", "ignore").decode()
    key = re.sub(r"[^0-9a-z]+", "_", text.strip().lower()).strip("_")
    if key[:1].isdigit():
        key = f"_{key}"  # a valid {{variable}} name
    return HEADER_ALIASES.get(key, key)


def _columns(raw: Iterable[str]) -> list[str]:
    """Normalised, unique column names (an unnamed column becomes column_<n>)."""
    names: list[str] = []
    for index, name in enumerate(raw, start=1):
        key = header_key(name) or f"column_{index}"
        unique, n = key, 2
        while unique in names:
            unique, n = f"{key}_{n}", n + 1
        names.append(unique)
    return names


def _sniff_delimiter(header_line: str) -> str:
    """`,`, `;` or tab: whichever the header row (outside quotes) uses most; `,` by default."""
    bare = _QUOTED.sub("", header_line)
    count, delimiter = max((bare.count(d), d) for d in reversed(DELIMITERS))
    return delimiter if count else ","


def _check_utf8(binary: IO[bytes]) -> None:
    """Refuse a file that is not UTF-8 before anything is imported (reads it once, in chunks)."""
    if not binary.seekable():
        return  # checked while reading instead
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    while chunk := binary.read(1 << 16):
        try:
            decoder.decode(chunk)
        except UnicodeDecodeError as error:
            line += chunk.count(b"\n", 0, max(0, error.start))
            raise _not_utf8(line) from None
        line += chunk.count(b"\n")
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise _not_utf8(line) from None
    binary.seek(0)


def _not_utf8(line: int) -> CsvFileError:
    return CsvFileError(
        f"The file is not UTF-8 text (the first invalid byte is on line {line}). Save it as "
        "'CSV UTF-8' (in Excel: Save As, 'CSV UTF-8 (Comma delimited)') and upload it again."
    )


def read_csv(
    binary: IO[bytes], *, required: Iterable[str] = ("phone",)
) -> tuple[list[str], Iterator[CsvRow]]:
    """(columns, rows) of a CSV file given as bytes; raises CsvFileError for the whole file.

    The rows are read lazily, one at a time; blank rows are skipped. A row that cannot be
    parsed at all (rare: e.g. a cell over the csv module's size limit) raises CsvFileError.
    """
    _check_utf8(binary)
    text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
    try:
        first = text.readline()
    except UnicodeDecodeError:
        text.detach()
        raise _not_utf8(1) from None
    if not first.strip():
        text.detach()
        raise CsvFileError(
            "The file is empty: the first line must name the columns (e.g. phone,first_name)."
        )
    reader = csv.DictReader(
        itertools.chain([first], text),
        delimiter=_sniff_delimiter(first),
        restkey=_EXTRA,
        restval="",
    )
    try:
        raw = list(reader.fieldnames or [])
    except csv.Error as error:
        text.detach()
        raise CsvFileError(f"The header row cannot be read as CSV: {error}.") from None
    columns = _columns(raw)
    for name in required:
        if name not in columns:
            text.detach()
            shown = ", ".join(f"'{item.strip()}'" for item in raw if item.strip()) or "nothing"
            raise CsvFileError(
                f"The file has no '{name}' column: its first line names {shown}. The first line "
                f"must name the columns, one of them '{name}' (e.g. phone,first_name,last_name)."
            )
    reader.fieldnames = columns
    return columns, _rows(reader, text)


def _rows(reader: csv.DictReader, text: io.TextIOWrapper) -> Iterator[CsvRow]:
    try:
        for record in reader:
            extra = record.pop(_EXTRA, None)
            extra_cells = sum(1 for cell in extra if cell.strip()) if extra else 0
            values = {key: value.strip() for key, value in record.items()}
            if not extra_cells and not any(values.values()):
                continue  # a blank row (",,,"): nothing to import, nothing to report
            yield CsvRow(line=reader.line_num, values=values, extra_cells=extra_cells)
    except csv.Error as error:
        raise CsvFileError(
            f"Line {reader.line_num + 1} cannot be read as CSV ({error}); reading stopped there."
        ) from None
    except UnicodeDecodeError:
        raise _not_utf8(reader.line_num + 1) from None
    finally:
        if not text.closed:
            text.detach()  # leave the caller's file open: it is theirs to close


@functools.cache
def _zones() -> dict[str, str]:
    return {name.lower(): name for name in zoneinfo.available_timezones()}


def canonical_zone(name: str) -> str | None:
    """The IANA name as zoneinfo spells it (`america/new_york` -> `America/New_York`), or None."""
    return _zones().get((name or "").strip().lower())


def upper_first(text: str) -> str:
    """`text` as a sentence: its first letter upper-case, the rest as it is (zone names keep
    their case, unlike str.capitalize)."""
    return text[:1].upper() + text[1:]


def _zone_error(name: str) -> str:
    return f"timezone '{name}' is not an IANA time zone name (e.g. America/New_York)."


# -- CSV import into a list -------------------------------------------------------------------


def _enqueue_import(import_id: int) -> None:
    from campaigns.tasks import import_contacts

    import_contacts.delay_on_commit(import_id)


def contact_import_start(
    *, contact_list: ContactList, uploaded_file: Any, file_name: str
) -> ContactImport:
    """Store the upload, record a pending import and queue it for a worker (on commit).

    The file is kept under VAR_DIR/uploads with a name of our own; `file_name` is only shown.
    A file over CONTACT_IMPORT_MAX_BYTES is refused before anything is stored.
    """
    relative = upload_store(
        uploaded_file=uploaded_file,
        kind="contacts",
        max_bytes=settings.CONTACT_IMPORT_MAX_BYTES,
        setting="CONTACT_IMPORT_MAX_BYTES",
    )
    try:
        with transaction.atomic():
            record = ContactImport.objects.create(
                contact_list=contact_list,
                file_name=display_name(file_name),
                stored_path=relative,
            )
            _enqueue_import(record.pk)
    except BaseException:
        upload_discard(relative)
        raise
    return record


@dataclass
class _Progress(Progress):
    COUNTERS = ("rows_read", "imported", "merged", "invalid")

    started: datetime | None = None
    imported: int = 0
    merged: int = 0

    def summary(self) -> str:
        return (
            f"{self.rows_read} rows read: {self.imported} contacts imported, "
            f"{self.merged} rows merged into a repeated number, {self.invalid} invalid."
        )


def _parse_contact(row: CsvRow, columns: int) -> tuple[str, dict[str, str], dict[str, str]] | str:
    """(phone, fields, variables) of a row, or the reason it is invalid."""
    values = row.values
    if row.extra_cells:
        return (
            f"has {columns + row.extra_cells} cells but the header names {columns} columns "
            "(a value with the delimiter in it must be in double quotes)."
        )
    if any("\x00" in value for value in values.values()):
        return "contains a NUL character."
    phone_text = values.get("phone", "")
    if not phone_text:
        return "phone is empty."
    try:
        phone = normalize_phone_number(phone_text)
    except ValidationError as error:
        return f"phone {error.messages[0]}"
    fields = {name: values.get(name, "") for name in CONTACT_FIELDS}
    for name, value in fields.items():
        if len(value) > MAX_LENGTHS[name]:
            return f"{name} is longer than {MAX_LENGTHS[name]} characters."
    if fields["timezone"]:
        zone = canonical_zone(fields["timezone"])
        if zone is None:
            return _zone_error(fields["timezone"])
        fields["timezone"] = zone
    if fields["region"]:
        try:
            fields["region"] = parse_region(fields["region"]).code
        except RegionError as error:
            return f"region {error}"
    try:
        fields.update(consent_fields(values))
    except ValidationError as error:
        return next(iter(error.message_dict.values()))[0]
    variables = {key: value for key, value in values.items() if value and key not in KNOWN_COLUMNS}
    return phone, fields, variables


def _given(value: Any) -> bool:
    """A value a row gives (an empty cell gives nothing; False, a "no", is a value)."""
    return value is not None and value != ""


def consent_fields(values: dict[str, Any]) -> dict[str, Any]:
    """The consent fields of a row or a request, typed: consent True/False/None (not given),
    consent_at an aware datetime or None. ValidationError names a value that is not one."""
    found: dict[str, Any] = {}
    raw = values.get("consent")
    if isinstance(raw, bool) or raw is None:
        found["consent"] = raw
    else:
        text = str(raw).strip().lower()
        if text and text not in CONSENT_WORDS:
            raise ValidationError({"consent": f"consent must be yes or no, not '{raw}'."})
        found["consent"] = CONSENT_WORDS.get(text)
    at = values.get("consent_at")
    if isinstance(at, str) and at.strip():
        try:
            at = datetime.fromisoformat(at.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValidationError(
                {"consent_at": f"consent_at '{at}' is not a date and time (ISO 8601, e.g. "
                 "2026-01-31T09:00:00Z)."}
            ) from None  # fmt: skip
    found["consent_at"] = (at if at.tzinfo else at.replace(tzinfo=UTC)) if at else None
    found["consent_source"] = str(values.get("consent_source") or "").strip()[:100]
    found["consent_evidence"] = str(values.get("consent_evidence") or "").strip()
    return found


def _merge_into(
    target: tuple[dict[str, Any], dict[str, Any]], fields: dict[str, Any], variables: dict
) -> None:
    """The later row's given fields win; variables merge (later values win)."""
    for name, value in fields.items():
        if _given(value):
            target[0][name] = value
    target[1].update(variables)


def _write_batch(
    record_id: int,
    contact_list_id: int,
    batch: dict[str, tuple[dict[str, str], dict[str, Any]]],
    progress: _Progress,
) -> None:
    """Upsert one batch of distinct numbers and save the counters, in one transaction."""
    with transaction.atomic():
        if batch:
            upsert = _upsert_by_copy if connection.vendor == "postgresql" else _upsert_by_orm
            recent = upsert(contact_list_id, batch, since=progress.started)
            # A number written earlier by this same run is a repeat, not a new contact.
            progress.merged += recent
            progress.imported += len(batch) - recent
        ContactImport.objects.filter(pk=record_id).update(**progress.counters())


def _upsert_by_orm(contact_list_id: int, batch: _Batch, *, since: datetime) -> int:
    """Any database: lock the batch's existing contacts, merge in Python, upsert in bulk.
    Returns how many of them this run created (in an earlier batch)."""
    phones = sorted(batch)
    existing = {
        row["phone"]: row
        for row in Contact.objects.select_for_update()
        .filter(contact_list_id=contact_list_id, phone__in=phones)
        .order_by("phone")
        .values("phone", *CONTACT_FIELDS, *CONSENT_FIELDS, "variables", "created_at")
    }
    contacts, recent = [], 0
    for phone in phones:
        fields, variables = batch[phone]
        old = existing.get(phone) or {"consent": False, "consent_at": None}
        fields = {
            name: fields.get(name) if _given(fields.get(name)) else old.get(name, "")
            for name in (*CONTACT_FIELDS, *CONSENT_FIELDS)
        }
        if "created_at" in old:
            variables = {**(old["variables"] or {}), **variables}
            recent += old["created_at"] >= since
        contacts.append(
            Contact(contact_list_id=contact_list_id, phone=phone, variables=variables, **fields)
        )
    Contact.objects.bulk_create(
        contacts,
        update_conflicts=True,
        unique_fields=["contact_list", "phone"],
        update_fields=[*CONTACT_FIELDS, *CONSENT_FIELDS, "variables", "updated_at"],
    )
    return recent


_STAGING = "contact_import_rows"


def _upsert_by_copy(contact_list_id: int, batch: _Batch, *, since: datetime) -> int:
    """PostgreSQL: COPY the batch into a temporary table, then merge it in one statement (the
    same rules as `_upsert_by_orm`: non-empty fields win, variables merge). The ORM's
    per-row SQL building was most of an import's time. Returns how many existing contacts this
    run created (in an earlier batch)."""
    quote = connection.ops.quote_name
    table, fields = quote(Contact._meta.db_table), [quote(name) for name in CONTACT_FIELDS]
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {_STAGING} (phone text, "
            + ", ".join(f"{field} text" for field in fields)
            + ", variables jsonb) ON COMMIT DELETE ROWS"
        )
        cursor.execute(f"TRUNCATE {_STAGING}")  # an enclosing transaction may not have ended
        with cursor.cursor.copy(f"COPY {_STAGING} FROM STDIN") as copy:
            for phone, (values, variables) in batch.items():
                copy.write_row(
                    (phone, *(values[name] for name in CONTACT_FIELDS), json.dumps(variables))
                )
        columns = ", ".join(fields)
        keep_filled = ", ".join(
            f"{field} = COALESCE(NULLIF(EXCLUDED.{field}, ''), c.{field})" for field in fields
        )
        # Repeats of numbers this run wrote in an earlier batch: rows it created before now.
        # (Identifiers are the model's own, quoted; every value is a parameter.)
        cursor.execute(
            f"WITH written AS (INSERT INTO {table} AS c (contact_list_id, phone, {columns}, "  # noqa: S608
            f"variables, created_at, updated_at) SELECT %s, phone, {columns}, variables, %s, %s "
            f"FROM {_STAGING} ORDER BY phone "  # one lock order for concurrent imports
            f"ON CONFLICT (contact_list_id, phone) DO UPDATE SET {keep_filled}, "
            "variables = (CASE WHEN jsonb_typeof(c.variables) = 'object' THEN c.variables "
            "ELSE '{}'::jsonb END) || EXCLUDED.variables, updated_at = EXCLUDED.updated_at "
            "RETURNING c.created_at) "
            "SELECT count(*) FROM written WHERE created_at >= %s AND created_at < %s",
            [contact_list_id, now, now, since, now],
        )
        recent = cursor.fetchone()[0]
    consents = [
        (phone, *(fields.get(name) for name in CONSENT_FIELDS))
        for phone, (fields, _) in batch.items()
        if any(_given(fields.get(name)) for name in CONSENT_FIELDS)
    ]
    if consents:
        _write_consents(contact_list_id, consents, now=now)
    return recent


def _write_consents(contact_list_id: int, rows: list[tuple], *, now: datetime) -> None:
    """The consent a batch's rows give, over what is stored (given values only): one UPDATE."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {connection.ops.quote_name(Contact._meta.db_table)} AS c SET "  # noqa: S608
            "consent = COALESCE(v.consent, c.consent), "
            "consent_at = COALESCE(v.consent_at, c.consent_at), "
            "consent_source = COALESCE(NULLIF(v.consent_source, ''), c.consent_source), "
            "consent_evidence = COALESCE(NULLIF(v.consent_evidence, ''), c.consent_evidence), "
            "updated_at = %s "
            "FROM unnest(%s::text[], %s::boolean[], %s::timestamptz[], %s::text[], %s::text[]) "
            "AS v(phone, consent, consent_at, consent_source, consent_evidence) "
            "WHERE c.contact_list_id = %s AND c.phone = v.phone",
            [now, *(list(column) for column in zip(*rows, strict=True)), contact_list_id],
        )


def contact_import_run(*, import_id: int) -> ContactImport:
    """Import a stored upload into its list (a worker runs it; small files may run inline).

    Safe to call again: a finished import is left alone, a running one (its worker lost) starts
    over (rows already written are updated, not duplicated), and a second concurrent run of the
    same import returns at once (`campaigns.services.imports.import_run`).
    """
    return import_run(
        model=ContactImport,
        import_id=import_id,
        lock_class=_IMPORT_LOCK_CLASS,
        progress=_Progress(started=timezone.now()),
        work=_import_file,
    )


def _import_file(record: ContactImport, progress: _Progress) -> None:
    contact_list_id = record.contact_list_id
    with open(stored_file(record), "rb") as binary:
        columns, rows = read_csv(binary, required=("phone",))
        width = len(columns)
        batch: dict[str, tuple[dict[str, str], dict[str, Any]]] = {}
        in_batch = 0
        try:
            for row in rows:
                progress.rows_read += 1
                in_batch += 1
                parsed = _parse_contact(row, width)
                if isinstance(parsed, str):
                    progress.reject(row.line, parsed)
                else:
                    phone, fields, variables = parsed
                    if phone in batch:
                        progress.merged += 1
                        _merge_into(batch[phone], fields, variables)
                    else:
                        batch[phone] = (fields, variables)
                if in_batch >= BATCH_SIZE:
                    _write_batch(record.pk, contact_list_id, batch, progress)
                    batch, in_batch = {}, 0
        except CsvFileError:
            # An unreadable line: the rows before it are imported, as the message says.
            _write_batch(record.pk, contact_list_id, batch, progress)
            contacts_reopen_consented(list_id=contact_list_id)
            raise
        _write_batch(record.pk, contact_list_id, batch, progress)
    contacts_reopen_consented(list_id=contact_list_id)  # consent recorded: called after all


# -- consent recorded later --------------------------------------------------------------------


def contacts_reopen_consented(contacts: Iterable[int] | None = None, *, list_id=None) -> int:
    """Contacts held as 'no consent' in a started campaign who have consent on record now (or
    whose campaign no longer requires it) are called after all: pending again, due now. Limited
    to `contacts` (ids) or a list's; one UPDATE."""
    held = CampaignContact.objects.filter(
        status=CampaignContact.Status.NO_CONSENT,
        campaign__status__in=ACTIVE_CAMPAIGN_STATUSES,
    ).filter(Q(contact__consent=True) | Q(campaign__require_consent=False))
    if contacts is not None:
        held = held.filter(contact_id__in=list(contacts))
    if list_id is not None:
        held = held.filter(contact__contact_list_id=list_id)
    now = timezone.now()
    return held.update(
        status=CampaignContact.Status.PENDING, next_attempt_at=now, held_by="",
        note="consent recorded", updated_at=now,
    )  # fmt: skip


# -- single contacts --------------------------------------------------------------------------


def _apply(contact: Contact, fields: dict[str, Any], variables: dict[str, Any] | None) -> None:
    for name, value in fields.items():
        if _given(value):
            setattr(contact, name, value)
    if variables:
        contact.variables = {**(contact.variables or {}), **variables}


@transaction.atomic
def contact_upsert(
    *,
    contact_list: ContactList,
    phone: str,
    first_name: str = "",
    last_name: str = "",
    external_id: str = "",
    timezone: str = "",
    region: str = "",
    variables: dict[str, Any] | None = None,
    consent: bool | str | None = None,
    consent_at: datetime | str | None = None,
    consent_source: str = "",
    consent_evidence: str = "",
) -> Contact:
    """Create or update one contact of a list, the way an import row would.

    The contact is found by `external_id` when given and known in the list (its number may then
    change), else by number. Empty fields keep what the contact has; variables merge.
    """
    try:
        e164 = normalize_phone_number(phone)
    except ValidationError as error:
        raise ValidationError({"phone": error.messages}) from None
    fields = {
        "first_name": (first_name or "").strip(),
        "last_name": (last_name or "").strip(),
        "external_id": (external_id or "").strip(),
        "timezone": (timezone or "").strip(),
        "region": (region or "").strip(),
    }
    if fields["timezone"]:
        zone = canonical_zone(fields["timezone"])
        if zone is None:
            raise ValidationError({"timezone": upper_first(_zone_error(fields["timezone"]))})
        fields["timezone"] = zone
    if fields["region"]:
        try:
            fields["region"] = parse_region(fields["region"]).code
        except RegionError as error:
            raise ValidationError({"region": str(error)}) from None
    fields.update(
        consent_fields(
            {"consent": consent, "consent_at": consent_at, "consent_source": consent_source,
             "consent_evidence": consent_evidence}
        )
    )  # fmt: skip
    if variables is not None and not isinstance(variables, dict):
        raise ValidationError({"variables": "Variables must be an object of name: value."})
    contacts = Contact.objects.select_for_update().filter(contact_list=contact_list)
    contact = None
    if fields["external_id"]:
        contact = contacts.filter(external_id=fields["external_id"]).order_by("id").first()
    holder = contacts.filter(phone=e164).first()
    if contact is not None and holder is not None and holder.pk != contact.pk:
        raise ValidationError(
            {
                "phone": f"{e164} already belongs to another contact in this list "
                f"({holder}, external id '{holder.external_id}')."
            }
        )
    contact = contact or holder or Contact(contact_list=contact_list, phone=e164)
    contact.phone = e164
    _apply(contact, fields, variables)
    contact.full_clean(validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            contact.save()
    except IntegrityError:
        if contact.pk is not None:
            raise
        # Created by someone else at the same moment: update theirs instead.
        contact = contacts.get(phone=e164)
        _apply(contact, fields, variables)
        contact.save()
    if contact.consent:
        contacts_reopen_consented([contact.pk])
    return contact


# -- many contacts at once (the API's bulk upsert) --------------------------------------------


@dataclass(frozen=True)
class BulkRow:
    """One row of a bulk upsert: its `contact_upsert` arguments, or why it could not be read."""

    position: int  # 1-based, in the request
    line: int | None = None  # CSV: its line in the body
    fields: dict[str, Any] | None = None
    errors: dict[str, Any] | None = None  # field (or "non_field_errors") -> message(s)


def _row_errors(row: BulkRow, detail: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for field, messages in detail.items():
        for message in messages if isinstance(messages, list) else [messages]:
            if isinstance(message, dict):  # a nested serializer error (never for these rows)
                message = "; ".join(f"{k}: {v}" for k, v in message.items())
            entry: dict[str, Any] = {"row": row.position}
            if row.line is not None:
                entry["line"] = row.line
            if field not in ("non_field_errors", "__all__"):
                entry["field"] = field
            entry["message"] = str(message)
            found.append(entry)
    return found


def contacts_bulk_upsert(*, contact_list: ContactList, rows: Sequence[BulkRow]) -> dict[str, Any]:
    """Upsert each readable row with `contact_upsert`; the others are reported and skipped.

    Returns {created, updated, invalid, errors}: the first MAX_ERRORS errors, each with its row
    (and CSV line). Valid rows are saved even when others are invalid: each row is its own
    savepoint, and a transaction holds BULK_BATCH rows, so a request of thousands of rows never
    keeps one long transaction open.
    """
    phones, external_ids = set(), set()
    for row in rows:
        if row.fields is not None:
            with contextlib.suppress(ValidationError):
                phones.add(normalize_phone_number(str(row.fields.get("phone") or "")))
            if row.fields.get("external_id"):
                external_ids.add(str(row.fields["external_id"]).strip())
    known = set(
        Contact.objects.filter(contact_list=contact_list)
        .filter(Q(phone__in=phones) | Q(external_id__in=external_ids))
        .values_list("id", flat=True)
    )
    result: dict[str, Any] = {"created": 0, "updated": 0, "invalid": 0, "errors": []}

    def reject(row: BulkRow, detail: dict[str, Any]) -> None:
        result["invalid"] += 1
        room = MAX_ERRORS - len(result["errors"])
        if room > 0:
            result["errors"].extend(_row_errors(row, detail)[:room])

    for start in range(0, len(rows), BULK_BATCH):
        with transaction.atomic():
            for row in rows[start : start + BULK_BATCH]:
                if row.fields is None:
                    reject(row, row.errors or {"non_field_errors": ["This row cannot be read."]})
                    continue
                try:
                    contact = contact_upsert(contact_list=contact_list, **row.fields)
                except ValidationError as error:
                    detail = (
                        error.message_dict
                        if hasattr(error, "error_dict")
                        else {"non_field_errors": error.messages}
                    )
                    reject(row, detail)
                    continue
                if contact.pk in known:
                    result["updated"] += 1
                else:
                    result["created"] += 1
                    known.add(contact.pk)
    return result


# -- deleting lists and contacts ---------------------------------------------------------------

KEPT_FOR_ACCOUNTING = (
    "a campaign keeps its contacts, their attempts and calls, so every call stays accounted for"
)


def _names(campaigns) -> str:
    names = list(campaigns.order_by("-created_at", "-id").values_list("name", flat=True)[:4])
    return ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")


def contact_list_delete_refusals(contact_list: ContactList) -> list[str]:
    """Why the list cannot be deleted (empty: it can). A started campaign that uses the list,
    or has enrolled any of its contacts, keeps them: so does the list."""
    started = Campaign.objects.exclude(status=Campaign.Status.DRAFT).filter(
        Q(pk__in=contact_list.campaigns.values("pk"))
        | Q(
            pk__in=CampaignContact.objects.filter(contact__contact_list=contact_list).values(
                "campaign_id"
            )
        )
    )
    if not started.exists():
        return []
    return [
        f"The list '{contact_list.name}' belongs to started campaign(s) {_names(started)}: "
        f"{KEPT_FOR_ACCOUNTING}. It cannot be deleted."
    ]


@transaction.atomic
def contact_list_delete(*, contact_list: ContactList) -> None:
    """Delete a list and its contacts, unless a started campaign has used it."""
    locked = ContactList.objects.select_for_update().filter(pk=contact_list.pk).first()
    if locked is None:
        return  # already deleted
    reasons = contact_list_delete_refusals(locked)
    if reasons:
        raise ValidationError(reasons)
    locked.delete()


def contact_delete_refusals(contact: Contact) -> list[str]:
    """Why the contact cannot be deleted (empty: it can): a campaign has enrolled it."""
    enrolled = Campaign.objects.filter(contacts__contact=contact)
    if not enrolled.exists():
        return []
    return [
        f"{contact} is enrolled in campaign(s) {_names(enrolled)}: {KEPT_FOR_ACCOUNTING}. It "
        "cannot be deleted; to stop calling the number, add it to the do-not-call list."
    ]


@transaction.atomic
def contact_delete(*, contact: Contact) -> None:
    """Delete a contact, unless a campaign has enrolled it."""
    locked = Contact.objects.select_for_update().filter(pk=contact.pk).first()
    if locked is None:
        return  # already deleted
    reasons = contact_delete_refusals(locked)
    if reasons:
        raise ValidationError(reasons)
    locked.delete()
