"""What the admin shows of CSV imports run by a worker (contact lists, the do-not-call list): a
status badge, the counters and first errors, and the progress JSON their pages poll."""

from collections.abc import Callable, Iterable
from typing import Any

from campaigns.models import CsvImport
from contactcenter.admin_display import BadgeKind, status_badge

ERRORS_SHOWN = 50  # per import, on the page and in the progress JSON
UNFINISHED_IMPORT_STATUSES = (CsvImport.Status.PENDING, CsvImport.Status.RUNNING)
STATUS_LABELS = dict(CsvImport.Status.choices)


def import_status_badge(status: str | None) -> str:
    if not status:
        return "-"
    return status_badge(BadgeKind.IMPORT, status, STATUS_LABELS.get(status, status))


def import_progress(record: CsvImport, counters: Iterable[str]) -> dict[str, Any]:
    """What a page shows of one import (also its progress JSON)."""
    return {
        "id": record.pk,
        "status": record.status,
        "status_label": record.get_status_display(),
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
) -> list[dict[str, Any]]:
    """The rows of the imports table (`admin/campaigns/csv_imports.html`)."""
    names = [name for name, _ in columns]
    return [
        {
            **import_progress(record, names),
            "cells": [(name, getattr(record, name)) for name in names],
            "file_name": record.file_name,
            "created_at": record.created_at,
            "status_badge": import_status_badge(record.status),
            "progress_url": progress_url(record),
        }
        for record in records
    ]
