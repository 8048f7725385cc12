"""The do-not-call list (invariant 3: never a blocked number).

Rules kept here:
- numbers are stored in E.164; `dnc_contains` is one lookup on the unique (indexed) column, as
  the dispatcher calls it for every claim;
- adding a number is idempotent (an existing entry is kept; a new non-empty reason replaces its
  reason) and, in the same transaction, takes every campaign contact of that number that is
  still waiting (pending, retry scheduled) out of its campaign (status do_not_call); contacts
  being called or done are left as they are, and the dispatcher checks again before each call;
- removing a number does not put those campaign contacts back: staff re-add them on purpose;
- a CSV upload is stored and added by a worker (`dnc_import_start`, task
  `campaigns.import_do_not_call`, `dnc_import_run`), in batches that each save the import's
  progress, with the contact import's reading and storage (`campaigns.services.imports`); a
  file over DNC_IMPORT_MAX_BYTES is refused before it is stored.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from campaigns.models import CampaignContact, Contact, DoNotCall, DoNotCallImport
from campaigns.services.contacts import BATCH_SIZE, read_csv
from campaigns.services.imports import (
    CsvFileError,
    Progress,
    display_name,
    import_run,
    stored_file,
    upload_discard,
    upload_store,
)
from campaigns.signals import contact_do_not_call
from campaigns.states import WAITING_CONTACT_STATUSES
from telephony.rules import Rule
from telephony.validators import normalize_phone_number

# Campaign contacts that an added number takes out of their campaign.
REASON_MAX_LENGTH = DoNotCall._meta.get_field("reason").max_length
BLOCKED_NOTE = "The number is on the do-not-call list."
_IMPORT_LOCK_CLASS = 7_310_302  # pg_try_advisory_lock(class, import id): one runner per import


def _normalized(phone: str) -> str:
    try:
        return normalize_phone_number(phone)
    except ValidationError as error:
        raise ValidationError({"phone": error.messages}) from None


def _reason(text: str) -> str:
    return (text or "").strip()[:REASON_MAX_LENGTH]


def _block_campaign_contacts(phones: list[str]) -> int:
    """Waiting campaign contacts of these numbers -> do_not_call; returns how many changed.
    The opt-out revokes the consent on record of every contact with these numbers.

    A row the dispatcher has just claimed (in_progress) no longer matches once its lock is
    released, so it is not touched here.
    """
    now = timezone.now()
    Contact.objects.filter(phone__in=phones, consent=True).update(
        consent=False, consent_revoked_at=now, updated_at=now
    )
    return CampaignContact.objects.filter(
        contact__phone__in=phones, status__in=WAITING_CONTACT_STATUSES
    ).update(
        status=CampaignContact.Status.DO_NOT_CALL,
        note=BLOCKED_NOTE,
        held_by=Rule.DO_NOT_CALL,
        updated_at=timezone.now(),
    )


@transaction.atomic
def dnc_add(
    *, phone: str, reason: str = "", source: str = DoNotCall.Source.STAFF, call=None
) -> DoNotCall:
    """Put a number on the do-not-call list (again: no harm) and stop its waiting calls in
    every campaign. A contact on a live call is finished when that call ends. `call`: the call
    in which the callee asked for it (source `call`)."""
    e164 = _normalized(phone)
    if source not in DoNotCall.Source.values:
        raise ValidationError({"source": f"'{source}' is not a do-not-call source."})
    reason = _reason(reason)
    entry, created = DoNotCall.objects.get_or_create(
        phone=e164, defaults={"reason": reason, "source": source, "call": call}
    )
    if not created and reason and reason != entry.reason:
        entry.reason = reason
        entry.save(update_fields=["reason"])
    _block_campaign_contacts([e164])
    if created:  # CRM webhooks (contactcenter.crm_webhooks.receivers), after commit
        transaction.on_commit(
            lambda: contact_do_not_call.send(
                sender=DoNotCall, phone=entry.phone, reason=entry.reason, source=entry.source
            )
        )
    return entry


@transaction.atomic
def dnc_remove(*, phone: str) -> bool:
    """Take a number off the list; False when it was not on it."""
    deleted, _ = DoNotCall.objects.filter(phone=_normalized(phone)).delete()
    return deleted > 0


def dnc_contains(phone: str) -> bool:
    """Is this E.164 number on the list? (Exact match, one indexed query: no parsing.)"""
    return DoNotCall.objects.filter(phone=phone).exists()


def dnc_listed(phones: Iterable[str]) -> frozenset[str]:
    """Which of these E.164 numbers are on the list (one indexed query, exact matches)."""
    wanted = set(phones)
    if not wanted:
        return frozenset()
    return frozenset(DoNotCall.objects.filter(phone__in=wanted).values_list("phone", flat=True))


# -- CSV import -------------------------------------------------------------------------------


@dataclass
class _Progress(Progress):
    COUNTERS = ("rows_read", "added", "existing", "invalid", "campaign_contacts_blocked")

    added: int = 0
    existing: int = 0  # already listed, or repeated in the file
    campaign_contacts_blocked: int = 0

    def summary(self) -> str:
        return (
            f"{self.rows_read} rows read: {self.added} numbers added, {self.existing} already on "
            f"the list, {self.invalid} invalid; {self.campaign_contacts_blocked} waiting campaign "
            "contacts were set to do-not-call."
        )


def _write_batch(
    batch: dict[str, str], source: str, progress: _Progress, record_id: int | None
) -> None:
    """Add one batch of distinct numbers (and save the import's counters), in one transaction."""
    with transaction.atomic():
        if batch:
            phones = sorted(batch)
            existing = {
                entry.phone: entry
                for entry in DoNotCall.objects.select_for_update()
                .filter(phone__in=phones)
                .order_by("phone")
            }
            new = [
                DoNotCall(phone=phone, reason=batch[phone], source=source)
                for phone in phones
                if phone not in existing
            ]
            DoNotCall.objects.bulk_create(new, ignore_conflicts=True)
            changed = []
            for phone, entry in existing.items():
                if batch[phone] and batch[phone] != entry.reason:
                    entry.reason = batch[phone]
                    changed.append(entry)
            DoNotCall.objects.bulk_update(changed, ["reason"])
            progress.campaign_contacts_blocked += _block_campaign_contacts(phones)
            progress.added += len(new)
            progress.existing += len(existing)
        if record_id is not None:
            DoNotCallImport.objects.filter(pk=record_id).update(**progress.counters())


def _import_rows(
    binary: IO[bytes], *, source: str, progress: _Progress, record_id: int | None = None
) -> None:
    """Add every number of a CSV file (columns `phone`, optional `reason`), in batches."""
    columns, rows = read_csv(binary, required=("phone",))
    batch: dict[str, str] = {}
    in_batch = 0
    try:
        for row in rows:
            progress.rows_read += 1
            in_batch += 1
            phone_text = row.values.get("phone", "")
            if row.extra_cells:
                progress.reject(
                    row.line,
                    f"has {len(columns) + row.extra_cells} cells but the header names "
                    f"{len(columns)} columns.",
                )
            elif "\x00" in phone_text or "\x00" in row.values.get("reason", ""):
                progress.reject(row.line, "contains a NUL character.")
            elif not phone_text:
                progress.reject(row.line, "phone is empty.")
            else:
                try:
                    phone = normalize_phone_number(phone_text)
                except ValidationError as error:
                    progress.reject(row.line, f"phone {error.messages[0]}")
                else:
                    if phone in batch:
                        progress.existing += 1  # repeated in the file
                    batch[phone] = _reason(row.values.get("reason", "")) or batch.get(phone, "")
            if in_batch >= BATCH_SIZE:
                _write_batch(batch, source, progress, record_id)
                batch, in_batch = {}, 0
    except CsvFileError:
        _write_batch(batch, source, progress, record_id)  # the rows before the unreadable line
        raise
    _write_batch(batch, source, progress, record_id)


def dnc_import_csv(*, file: IO[bytes], source: str = DoNotCall.Source.CSV) -> dict[str, Any]:
    """Add every number of a CSV file (columns `phone`, optional `reason`) now, in batches.

    Returns {rows_read, added, existing (already listed, or repeated in the file), invalid,
    campaign_contacts_blocked, errors: [{line, reason}] (the first 1000)}. A file-level problem
    (empty, not UTF-8, no phone column) raises CsvFileError (a ValidationError) with the reason.
    Uploads run in the background instead: `dnc_import_start`.
    """
    if source not in DoNotCall.Source.values:
        raise ValidationError({"source": f"'{source}' is not a do-not-call source."})
    progress = _Progress()
    try:
        _import_rows(file, source=source, progress=progress)
    except CsvFileError as error:
        raise CsvFileError(
            f"{error.message} Before it: {progress.added} numbers added, "
            f"{progress.existing} already listed, {progress.invalid} invalid."
        ) from None
    return {
        **{name: getattr(progress, name) for name in progress.COUNTERS},
        "errors": progress.errors,
    }


def _enqueue_import(import_id: int) -> None:
    from campaigns.tasks import import_do_not_call

    import_do_not_call.delay_on_commit(import_id)


def dnc_import_start(*, uploaded_file: Any, file_name: str) -> DoNotCallImport:
    """Store an uploaded CSV of numbers, record a pending import and queue it (on commit).

    A file over DNC_IMPORT_MAX_BYTES is refused (ValidationError) before anything is stored.
    """
    relative = upload_store(
        uploaded_file=uploaded_file,
        kind="do-not-call",
        max_bytes=settings.DNC_IMPORT_MAX_BYTES,
        setting="DNC_IMPORT_MAX_BYTES",
    )
    try:
        with transaction.atomic():
            record = DoNotCallImport.objects.create(
                file_name=display_name(file_name), stored_path=relative
            )
            _enqueue_import(record.pk)
    except BaseException:
        upload_discard(relative)
        raise
    return record


def _import_stored(record: DoNotCallImport, progress: _Progress) -> None:
    with open(stored_file(record), "rb") as binary:
        _import_rows(binary, source=DoNotCall.Source.CSV, progress=progress, record_id=record.pk)


def dnc_import_run(*, import_id: int) -> DoNotCallImport:
    """Add the numbers of a stored upload (a worker runs it), saving progress per batch.

    Safe to call again: a finished import is left alone; one whose worker was lost starts over
    (adding a number twice changes nothing; the numbers its first run added then count as
    already listed); a second concurrent run of the same import returns at once.
    """
    return import_run(
        model=DoNotCallImport,
        import_id=import_id,
        lock_class=_IMPORT_LOCK_CLASS,
        progress=_Progress(),
        work=_import_stored,
    )
