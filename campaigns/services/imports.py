"""CSV imports run by a worker (contact lists, the do-not-call list): what they share.

Starting one stores the upload under VAR_DIR/uploads with a name of our own, refusing a file
over its size cap before anything is stored, and records a pending import row; the caller queues
its task after commit. Running one (`import_run`) takes an advisory lock so that only one runner
works on an import, claims the row (pending, or running after a lost worker: it starts over),
lets the caller's `work` read the file and save counters as it goes, then records the outcome:
done with a summary, or failed with the reason (a file-level CSV problem, a missing file, or an
unexpected error, which is also raised). The stored file is removed once the import ends.
"""

import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from campaigns.models import CsvImport

logger = logging.getLogger(__name__)

UPLOAD_DIR = "uploads"  # under settings.VAR_DIR
CHUNK_SIZE = 1 << 20

Import = TypeVar("Import", bound=CsvImport)


class CsvFileError(ValidationError):
    """The file as a whole cannot be read: nothing (more) of it is imported."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="invalid_file")


MAX_ERRORS = 1000  # row errors kept on an import; all of them are counted


@dataclass
class Progress:
    """A running import's counters, saved on its row as it goes. Each kind of import adds its
    own counters (named in COUNTERS) and says what they mean in `summary`."""

    COUNTERS: ClassVar[tuple[str, ...]] = ("rows_read", "invalid")

    rows_read: int = 0
    invalid: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    errors_saved: int = 0

    def reject(self, line: int, reason: str) -> None:
        self.invalid += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append({"line": line, "reason": reason})

    def counters(self) -> dict[str, Any]:
        """The import row's counters (and errors, when new ones came) as they stand now."""
        values: dict[str, Any] = {name: getattr(self, name) for name in self.COUNTERS}
        if len(self.errors) != self.errors_saved:
            values["errors"] = self.errors
            self.errors_saved = len(self.errors)
        return values

    def summary(self) -> str:
        """One sentence for the import's message."""
        raise NotImplementedError


def display_name(file_name: str) -> str:
    """The uploaded file's own name, only ever shown (never a path of ours)."""
    name = re.split(r"[\\/]", str(file_name or ""))[-1].strip()
    return name[:255] or "upload.csv"


def _too_large(size: int, limit: int, setting: str) -> ValidationError:
    return ValidationError(
        f"The file is {filesizeformat(size)}; uploads are limited to {filesizeformat(limit)} "
        f"({setting}).",
        code="file_too_large",
    )


def upload_store(*, uploaded_file: Any, kind: str, max_bytes: int, setting: str) -> str:
    """Store an upload under VAR_DIR/uploads; returns its path relative to VAR_DIR.

    A file over `max_bytes` is refused (ValidationError naming `setting`): by its declared size
    before anything is written, or while it is copied when its size is not known.
    """
    size = getattr(uploaded_file, "size", None)
    if size is not None and size > max_bytes:
        raise _too_large(size, max_bytes, setting)
    directory = Path(settings.VAR_DIR) / UPLOAD_DIR
    directory.mkdir(parents=True, exist_ok=True)
    relative = f"{UPLOAD_DIR}/{kind}-{uuid.uuid4().hex}.csv"
    target = Path(settings.VAR_DIR) / relative
    chunks = (
        uploaded_file.chunks()
        if hasattr(uploaded_file, "chunks")
        else iter(lambda: uploaded_file.read(CHUNK_SIZE), b"")
    )
    written = 0
    try:
        with open(target, "xb") as out:
            for chunk in chunks:
                written += len(chunk)
                if written > max_bytes:
                    raise _too_large(written, max_bytes, setting)
                out.write(chunk)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return relative


def upload_discard(relative: str) -> None:
    (Path(settings.VAR_DIR) / relative).unlink(missing_ok=True)


def stored_file(record: CsvImport) -> Path:
    return Path(settings.VAR_DIR) / record.stored_path


# -- running ----------------------------------------------------------------------------------


def _try_lock(lock_class: int, import_id: int) -> bool:
    """Only one runner per import (a redelivered task meets the first one's lock and leaves).

    PostgreSQL: a session advisory lock, released by `_unlock` or when the worker's connection
    drops. SQLite (the zero-setup default) has one writer at a time anyway.
    """
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [lock_class, import_id])
        return bool(cursor.fetchone()[0])


def _unlock(lock_class: int, import_id: int) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [lock_class, import_id])


@transaction.atomic
def _claim(model: type[Import], import_id: int, fresh: dict[str, Any]) -> tuple[Import, bool]:
    """(import, True) when this run should import it: pending, or running after a lost worker."""
    record = model.objects.select_for_update().get(pk=import_id)
    if record.status in (CsvImport.Status.DONE, CsvImport.Status.FAILED):
        return record, False
    record.status = CsvImport.Status.RUNNING
    for name, value in fresh.items():
        setattr(record, name, value)
    record.errors = []
    record.message = ""
    record.finished_at = None
    record.save()
    return record, True


def _finish(
    model: type[CsvImport], record_id: int, *, status: str, message: str, progress: Progress | None
) -> None:
    values: dict[str, Any] = {"status": status, "message": message, "finished_at": timezone.now()}
    if progress is not None:
        values.update(progress.counters())
    with transaction.atomic():
        model.objects.filter(pk=record_id).update(**values)


def import_run(
    *,
    model: type[Import],
    import_id: int,
    lock_class: int,
    progress: Progress,
    work: Callable[[Import, Any], None],
) -> Import:
    """Run one stored import with `work(record, progress)` (see the module's docstring).

    Safe to call again: a finished import is left alone, a running one (its worker lost) starts
    over, and a second concurrent run of the same import returns at once.
    """
    if not _try_lock(lock_class, import_id):
        return model.objects.get(pk=import_id)
    try:
        record, claimed = _claim(model, import_id, progress.counters())
        if not claimed:
            return record
        failed = CsvImport.Status.FAILED
        try:
            work(record, progress)
        except CsvFileError as error:
            message = error.message
            if progress.rows_read:
                message += f" Before it: {progress.summary()}"
            _finish(model, record.pk, status=failed, message=message, progress=progress)
        except FileNotFoundError:
            message = (
                f"The uploaded file is no longer there ({record.stored_path}): upload it again. "
                "(The web server and the workers must share VAR_DIR/uploads.)"
            )
            _finish(model, record.pk, status=failed, message=message, progress=progress)
        except Exception as error:
            # Recorded so staff do not watch a 'running' import forever, then raised as is.
            logger.exception("%s %s stopped", model._meta.verbose_name, import_id)
            # The error's own text may carry SQL, paths or values: it stays in the log.
            message = (
                f"The import stopped on an unexpected error ({type(error).__name__}); the "
                "workers' log has the details. Upload the file again once it is fixed."
            )
            _finish(model, record.pk, status=failed, message=message, progress=None)
            raise
        else:
            _finish(model, record.pk, status=CsvImport.Status.DONE, message=progress.summary(),
                    progress=progress)  # fmt: skip
        stored_file(record).unlink(missing_ok=True)
        record.refresh_from_db()
        logger.info("%s %s: %s", model._meta.verbose_name, import_id, record.message)
        return record
    finally:
        _unlock(lock_class, import_id)
