"""A campaign's results, one row per contact: who, how far the dialer got, and what the last
conversation achieved (its analysis). Streamed in chunks, so any size exports in bounded memory;
as CSV (every cell spreadsheet-safe) or JSON Lines."""

import json
from collections.abc import Iterator
from typing import Any

from campaigns.models import Campaign, CampaignContact, DoNotCall
from contactcenter.spreadsheets import csv_lines
from telephony.analysis_fields import fields_of

CHUNK = 2000
CONTACT_COLUMNS = ("phone", "first_name", "last_name", "external_id", "timezone")
PROGRESS_COLUMNS = ("status", "attempts", "callbacks", "last_outcome", "last_call_id",
                    "last_call_ended_at")  # fmt: skip
ANALYSIS_COLUMNS = ("disposition", "disposition_source", "success", "summary", "callback_at",
                    "do_not_call")  # fmt: skip


def _entries(campaign: Campaign):
    return (
        CampaignContact.objects.filter(campaign=campaign)
        .select_related("contact", "last_call__analysis")
        .order_by("id")
    )


def _keys(campaign: Campaign) -> tuple[list[str], list[str]]:
    """Every contact variable and every extracted field the rows hold, for the columns (a first
    pass that keeps only the names): the plan's fields first, in its order, even if empty."""
    variables: set[str] = set()
    fields: set[str] = set()
    rows = _entries(campaign).values_list("contact__variables", "last_call__analysis__fields")
    for contact_variables, analysis_fields in rows.iterator(chunk_size=CHUNK):
        variables |= set(contact_variables or {})
        fields |= set(analysis_fields or {})
    planned = [spec.name for spec in fields_of(campaign.analysis_fields)]
    return sorted(variables), planned + sorted(fields - set(planned))


def _record(entry: CampaignContact, blocked: bool, variables, fields) -> dict[str, Any]:
    contact, call = entry.contact, entry.last_call
    # A call not analysed has no `analysis` (Django raises an AttributeError subclass).
    analysis = getattr(call, "analysis", None) if call is not None else None
    record: dict[str, Any] = {name: getattr(contact, name) for name in CONTACT_COLUMNS}
    record |= {f"var:{name}": (contact.variables or {}).get(name) for name in variables}
    record |= {
        "status": entry.status,
        "attempts": entry.attempts,
        "callbacks": entry.callbacks,
        "last_outcome": entry.last_outcome,
        "last_call_id": str(call.pk) if call else None,
        "last_call_ended_at": call.ended_at.isoformat() if call and call.ended_at else None,
        "disposition": analysis.disposition if analysis else None,
        "disposition_source": analysis.disposition_source if analysis else None,
        "success": analysis.success if analysis else None,
        "summary": analysis.summary if analysis else None,
        "callback_at": (entry.callback_at or (analysis.callback_at if analysis else None)),
        "do_not_call": blocked,
    }
    record["callback_at"] = record["callback_at"].isoformat() if record["callback_at"] else None
    record |= {f"field:{name}": (analysis.fields if analysis else {}).get(name) for name in fields}
    return record


def campaign_results(campaign: Campaign) -> tuple[list[str], Iterator[dict[str, Any]]]:
    """(the columns, the records one by one)."""
    variables, fields = _keys(campaign)
    columns = [*CONTACT_COLUMNS, *(f"var:{name}" for name in variables), *PROGRESS_COLUMNS,
               *ANALYSIS_COLUMNS, *(f"field:{name}" for name in fields)]  # fmt: skip

    def records() -> Iterator[dict[str, Any]]:
        batch: list[CampaignContact] = []
        for entry in _entries(campaign).iterator(chunk_size=CHUNK):
            batch.append(entry)
            if len(batch) == CHUNK:
                yield from _with_blocked(batch, variables, fields)
                batch = []
        yield from _with_blocked(batch, variables, fields)

    return columns, records()


def _with_blocked(batch, variables, fields) -> Iterator[dict[str, Any]]:
    phones = {entry.contact.phone for entry in batch}
    blocked = set(DoNotCall.objects.filter(phone__in=phones).values_list("phone", flat=True))
    for entry in batch:
        yield _record(entry, entry.contact.phone in blocked, variables, fields)


def results_csv(campaign: Campaign) -> Iterator[str]:
    columns, records = campaign_results(campaign)
    return csv_lines(columns, ([record[name] for name in columns] for record in records))


def results_json_lines(campaign: Campaign) -> Iterator[str]:
    _, records = campaign_results(campaign)
    return (json.dumps(record, ensure_ascii=False, default=str) + "\n" for record in records)
