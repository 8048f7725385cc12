"""The do-not-call list (invariant 3: never a blocked number).

Rules kept here:
- numbers are stored in E.164; `dnc_contains` is one lookup on the unique (indexed) column, as
  the dispatcher calls it for every claim;
- adding a number is idempotent (an existing entry is kept; a new non-empty reason replaces its
  reason) and, in the same transaction, takes every campaign contact of that number that is
  still waiting (pending, retry scheduled) out of its campaign (status do_not_call); contacts
  being called or done are left as they are, and the dispatcher checks again before each call;
- removing a number does not put those campaign contacts back: staff re-add them on purpose.
"""

from typing import IO, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from campaigns.models import CampaignContact, DoNotCall
from campaigns.services.contacts import BATCH_SIZE, MAX_ERRORS, CsvFileError, read_csv
from campaigns.signals import contact_do_not_call
from telephony.validators import normalize_phone_number

# Campaign contacts that an added number takes out of their campaign.
WAITING_STATUSES = (CampaignContact.Status.PENDING, CampaignContact.Status.RETRY_SCHEDULED)
REASON_MAX_LENGTH = DoNotCall._meta.get_field("reason").max_length
BLOCKED_NOTE = "The number is on the do-not-call list."


def _normalized(phone: str) -> str:
    try:
        return normalize_phone_number(phone)
    except ValidationError as error:
        raise ValidationError({"phone": error.messages}) from None


def _reason(text: str) -> str:
    return (text or "").strip()[:REASON_MAX_LENGTH]


def _block_campaign_contacts(phones: list[str]) -> int:
    """Waiting campaign contacts of these numbers -> do_not_call; returns how many changed.

    A row the dispatcher has just claimed (in_progress) no longer matches once its lock is
    released, so it is not touched here.
    """
    return CampaignContact.objects.filter(
        contact__phone__in=phones, status__in=WAITING_STATUSES
    ).update(
        status=CampaignContact.Status.DO_NOT_CALL,
        note=BLOCKED_NOTE,
        updated_at=timezone.now(),
    )


@transaction.atomic
def dnc_add(*, phone: str, reason: str = "", source: str = DoNotCall.Source.STAFF) -> DoNotCall:
    """Put a number on the do-not-call list (again: no harm) and stop its waiting calls."""
    e164 = _normalized(phone)
    if source not in DoNotCall.Source.values:
        raise ValidationError({"source": f"'{source}' is not a do-not-call source."})
    reason = _reason(reason)
    entry, created = DoNotCall.objects.get_or_create(
        phone=e164, defaults={"reason": reason, "source": source}
    )
    if not created and reason and reason != entry.reason:
        entry.reason = reason
        entry.save(update_fields=["reason"])
    _block_campaign_contacts([e164])
    if created:  # outbound webhooks (contactcenter.receivers), after commit
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


def _write_batch(batch: dict[str, str], source: str, counts: dict[str, Any]) -> None:
    if not batch:
        return
    phones = sorted(batch)
    with transaction.atomic():
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
        counts["campaign_contacts_blocked"] += _block_campaign_contacts(phones)
    counts["added"] += len(new)
    counts["existing"] += len(existing)


def dnc_import_csv(*, file: IO[bytes], source: str = DoNotCall.Source.CSV) -> dict[str, Any]:
    """Add every number of a CSV file (columns `phone`, optional `reason`), in batches.

    Returns {rows_read, added, existing (already listed, or repeated in the file), invalid,
    campaign_contacts_blocked, errors: [{line, reason}] (the first 1000)}. A file-level problem
    (empty, not UTF-8, no phone column) raises CsvFileError (a ValidationError) with the reason.
    """
    if source not in DoNotCall.Source.values:
        raise ValidationError({"source": f"'{source}' is not a do-not-call source."})
    columns, rows = read_csv(file, required=("phone",))
    counts: dict[str, Any] = dict.fromkeys(
        ("rows_read", "added", "existing", "invalid", "campaign_contacts_blocked"), 0
    )
    errors: list[dict[str, Any]] = []
    batch: dict[str, str] = {}
    in_batch = 0

    def reject(line: int, reason: str) -> None:
        counts["invalid"] += 1
        if len(errors) < MAX_ERRORS:
            errors.append({"line": line, "reason": reason})

    try:
        for row in rows:
            counts["rows_read"] += 1
            in_batch += 1
            phone_text = row.values.get("phone", "")
            if row.extra_cells:
                reject(
                    row.line,
                    f"has {len(columns) + row.extra_cells} cells but the header names "
                    f"{len(columns)} columns.",
                )
            elif "\x00" in phone_text or "\x00" in row.values.get("reason", ""):
                reject(row.line, "contains a NUL character.")
            elif not phone_text:
                reject(row.line, "phone is empty.")
            else:
                try:
                    phone = normalize_phone_number(phone_text)
                except ValidationError as error:
                    reject(row.line, f"phone {error.messages[0]}")
                else:
                    if phone in batch:
                        counts["existing"] += 1  # repeated in the file
                    batch[phone] = _reason(row.values.get("reason", "")) or batch.get(phone, "")
            if in_batch >= BATCH_SIZE:
                _write_batch(batch, source, counts)
                batch, in_batch = {}, 0
        _write_batch(batch, source, counts)
    except CsvFileError as error:
        _write_batch(batch, source, counts)  # the rows before the unreadable line
        raise CsvFileError(
            f"{error.message} Before it: {counts['added']} numbers added, "
            f"{counts['existing']} already listed, {counts['invalid']} invalid."
        ) from None
    counts["errors"] = errors
    return counts
