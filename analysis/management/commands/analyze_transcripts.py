import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from analysis.builtin import analyze
from analysis.evaluation import analyze_item, figures, load_items
from analysis.llm import AnalyzerError, LlmAnalyzer
from analysis.plan import Plan
from analysis.services import llm_client, llm_config


class Command(BaseCommand):
    help = (
        "Analyse the transcripts in a JSON file (a list of {id, transcript: [{role, content}], "
        "callee_timezone?, call_started_at?, label?}) without the database: one JSON result per "
        "line, then the figures when the items are labelled. README, 'Post-call analysis'."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument(
            "--analyzer",
            choices=("builtin", "llm"),
            default="builtin",
            help="llm: ANALYSIS_LLM_URL/MODEL/API_KEY (or the simulator's stand-in when "
            "AGORA_SIMULATOR is on)",
        )
        parser.add_argument(
            "--plan",
            help="a JSON file: {dispositions?, success_dispositions?, success_criterion?, "
            "fields?: a JSON schema as a campaign stores it}",
        )

    def handle(self, *args, file: str, analyzer: str, plan: str | None, **options):
        try:
            items = load_items(file)
            chosen = Plan.from_json(json.loads(Path(plan).read_text("utf-8"))) if plan else Plan()
        except (OSError, ValueError) as error:
            raise CommandError(str(error)) from None
        if analyzer == "llm":
            config = llm_config()
            if config is None:
                raise CommandError(
                    "No LLM is configured: set ANALYSIS_LLM_URL (and its model and key)."
                )
            client = llm_client(config)
            llm = LlmAnalyzer(config, client=client)

            def analyze_with(transcript, **question):
                return llm.analyze(transcript, **question)[0]
        else:
            client, analyze_with = None, analyze
        verdicts = []
        try:
            for item in items:
                try:
                    verdicts.append(analyze_item(item, chosen, analyze_with))
                except (KeyError, ValueError) as error:
                    raise CommandError(f"item {item.get('id')!r}: {error}") from None
                except AnalyzerError as error:
                    raise CommandError(f"item {item.get('id')!r}: {error}") from None
                self.stdout.write(json.dumps(verdicts[-1], ensure_ascii=False))
        finally:
            if client is not None:
                client.close()
        summary = figures(items, verdicts)
        if summary:
            self.stdout.write(json.dumps({"figures": summary}))
