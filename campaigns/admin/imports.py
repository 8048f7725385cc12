"""What the admin shows of CSV imports run by a worker (contact lists, the do-not-call list): a
status badge, the counters and first errors, and the progress JSON their pages poll."""

from collections.abc import Callable, Iterable
from typing import Any

from django.http import StreamingHttpResponse

from campaigns.models import CsvImport
from contactcenter.admin_display import BadgeKind, status_badge
from contactcenter.spreadsheets import csv_lines

ERRORS_SHOWN = 50  # per import, on the page and in the progress JSON
UNFINISHED_IMPORT_STATUSES = (CsvImport.Status.PENDING, CsvImport.Status.RUNNING)
STATUS_LABELS = dict(CsvImport.Status.choices)


def import_outcome(status: str | None, *, invalid: int = 0, rows_read: int = 0) -> tuple[str, str]:
    """(badge key, label) of an import: a finished import that rejected rows says how many, in
    amber ("partial"), rather than a green "Done"."""
    if status == CsvImport.Status.DONE and invalid:
        return "partial", f"Done, {invalid} of {rows_read} rows rejected"
    return status or "", STATUS_LABELS.get(status, status or "")


def import_status_badge(status: str | None, *, invalid: int = 0, rows_read: int = 0) -> str:
    if not status:
        return "-"
    key, label = import_outcome(status, invalid=invalid, rows_read=rows_read)
    return status_badge(BadgeKind.IMPORT, key, label)


def rejected_rows_response(record: CsvImport) -> StreamingHttpResponse:
    """The rows an import rejected (line, reason; the first 1,000 are kept) as CSV."""
    response = StreamingHttpResponse(
        csv_lines(
            ["line", "reason"],
            ([error.get("line", ""), error.get("reason", "")] for error in record.errors or []),
        ),
        content_type="text/csv; charset=utf-8",
    )
    name = record.file_name.rsplit(".", 1)[0] or "import"
    response["Content-Disposition"] = f'attachment; filename="{name}-rejected.csv"'
    return response


def import_progress(record: CsvImport, counters: Iterable[str], **extra: Any) -> dict[str, Any]:
    """What a page shows of one import (also its progress JSON); `extra`: what else the page
    updates when it changes (e.g. the list's contact count)."""
    badge_key, label = import_outcome(
        record.status, invalid=record.invalid, rows_read=record.rows_read
    )
    return {
        **extra,
        "id": record.pk,
        "status": record.status,
        "badge_key": badge_key,
        "status_label": label,
        "active": record.status in UNFINISHED_IMPORT_STATUSES,
        **{name: getattr(record, name) for name in counters},
        "message": record.message,
        "errors": list((record.errors or [])[:ERRORS_SHOWN]),
        "finished_at": record.finished_at.isoformat() if record.finished_at else None,
    }


def import_rows(
    records: Iterable[CsvImport],
    columns: tuple[tuple[str, str], ...],
    progress_url: Callable[[CsvImport], str],
    rejected_url: Callable[[CsvImport], str],
) -> list[dict[str, Any]]:
    """The rows of the imports table (`admin/campaigns/csv_imports.html`)."""
    names = [name for name, _ in columns]
    return [
        {
            **import_progress(record, names),
            "cells": [(name, getattr(record, name)) for name in names],
            "file_name": record.file_name,
            "created_at": record.created_at,
            "status_badge": import_status_badge(
                record.status, invalid=record.invalid, rows_read=record.rows_read
            ),
            "progress_url": progress_url(record),
            "rejected_url": rejected_url(record),
        }
        for record in records
    ]
