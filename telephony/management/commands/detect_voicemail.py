"""Run the voicemail transcript detector over a JSON file, without the database.

FILE.json is a list of items: `id`, `first_turns` as [{role, content}], optional `label`
("machine" or "human"). One JSON verdict per line, then precision and recall when labels are
given (telephony/voicemail_labelled.json is such a file).
"""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from telephony.voicemail import detect_voicemail, precision_recall


class Command(BaseCommand):
    help = "Say, for each item of a JSON file, whether its first turns are a voicemail greeting."
    requires_system_checks: list = []

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", type=Path)

    def handle(self, *args, **options) -> None:
        try:
            items = json.loads(options["file"].read_text(encoding="utf-8"))
        except OSError as error:
            raise CommandError(f"Cannot read {options['file']}: {error.strerror}") from None
        except json.JSONDecodeError as error:
            raise CommandError(f"{options['file']} is not JSON: {error}") from None
        if not isinstance(items, list):
            raise CommandError(f"{options['file']}: expected a JSON list of items")
        labelled = []
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                raise CommandError(f"item {index}: expected an object with id and first_turns")
            verdict = detect_voicemail(item.get("first_turns"))
            line = {"id": item.get("id", index), "voicemail": verdict.machine,
                    "reasons": list(verdict.reasons)}  # fmt: skip
            label = item.get("label")
            if label in ("machine", "human"):
                line["label"] = label
                labelled.append((verdict.machine, label == "machine"))
            self.stdout.write(json.dumps(line, ensure_ascii=False))
        if labelled:
            self.stdout.write(json.dumps({"summary": precision_recall(labelled)}))
