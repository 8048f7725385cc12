"""Runs one contact import in a process of its own, for `make bench`: prints rows, seconds and
memory (resident before the import, the highest while it ran, and the process's lifetime peak)
as one JSON line.

    python -m tests.support.bench.import_probe contacts.csv
"""

import json
import os
import resource
import shutil
import sys
import threading
import time
import uuid
from pathlib import Path


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def rss_mb() -> float:
    """Resident memory now (VmRSS)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


class RssSampler(threading.Thread):
    """The highest resident memory seen while the import runs (every 20 ms)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.highest = rss_mb()
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.02):
            self.highest = max(self.highest, rss_mb())


def main() -> None:
    source = Path(sys.argv[1])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contactcenter.settings")
    import django

    django.setup()
    from django.conf import settings

    from campaigns.models import ContactImport, ContactList
    from campaigns.services.contacts import contact_import_run

    relative = f"uploads/bench-{uuid.uuid4().hex}.csv"
    target = Path(settings.VAR_DIR) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    contact_list = ContactList.objects.create(name=f"Import bench {uuid.uuid4().hex[:6]}")
    record = ContactImport.objects.create(
        contact_list=contact_list, file_name=source.name, stored_path=relative
    )
    before = rss_mb()
    sampler = RssSampler()
    sampler.start()
    started = time.monotonic()
    record = contact_import_run(import_id=record.pk)
    elapsed = time.monotonic() - started
    sampler.done.set()
    sampler.join()
    if record.status != ContactImport.Status.DONE:
        raise SystemExit(f"the import did not finish: {record.status}: {record.message}")
    print(
        json.dumps(
            {
                "rows": record.rows_read,
                "imported": record.imported,
                "invalid": record.invalid,
                "seconds": round(elapsed, 2),
                "peak_rss_mb": round(max(sampler.highest, rss_mb()), 1),
                "rss_before_import_mb": round(before, 1),
                "process_peak_rss_mb": round(peak_rss_mb(), 1),
            }
        )
    )


if __name__ == "__main__":
    main()
