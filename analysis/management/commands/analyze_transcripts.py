import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from analysis.evaluation import Plan, analyze_item, figures, load_items


class Command(BaseCommand):
    help = (
        "Analyse the transcripts in a JSON file (a list of {id, transcript: [{role, content}], "
        "callee_timezone?, call_started_at?, label?}) without the database: one JSON result per "
        "line, then the figures when the items are labelled. README, 'Post-call analysis'."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--analyzer", choices=("builtin", "llm"), default="builtin")
        parser.add_argument("--plan", help="a JSON file: {dispositions: [...], ...}")

    def handle(self, *args, file: str, analyzer: str, plan: str | None, **options):
        if analyzer != "builtin":
            raise CommandError("The LLM analyzer is not available yet; use --analyzer builtin.")
        try:
            items = load_items(file)
            chosen = Plan.from_json(json.loads(Path(plan).read_text("utf-8"))) if plan else Plan()
        except (OSError, ValueError) as error:
            raise CommandError(str(error)) from None
        verdicts = []
        for item in items:
            try:
                verdicts.append(analyze_item(item, chosen))
            except (KeyError, ValueError) as error:
                raise CommandError(f"item {item.get('id')!r}: {error}") from None
            self.stdout.write(json.dumps(verdicts[-1], ensure_ascii=False))
        summary = figures(items, verdicts)
        if summary:
            self.stdout.write(json.dumps({"figures": summary}))
