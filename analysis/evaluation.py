"""Running an analyzer over transcripts kept in a file (no database): the labelled set's test
and `manage.py analyze_transcripts` share it."""

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from analysis.builtin import Analysis, analyze
from analysis.plan import Plan

LABELLED_SET = Path(__file__).with_name("labelled_transcripts.json")


def _instant(text: str | None) -> datetime | None:
    if not text:
        return None
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def analyze_item(item: dict, plan: Plan, analyzer: Callable[..., Analysis] = analyze) -> dict:
    """One item's verdict: the disposition, the opt-out, the callback time in the callee's
    local time, the summary and the fields. `analyzer`: the built-in rules, or an LLM's."""
    zone = ZoneInfo(item["callee_timezone"]) if item.get("callee_timezone") else None
    result = analyzer(
        item.get("transcript"),
        dispositions=plan.dispositions,
        success_dispositions=plan.success_dispositions,
        fields_schema=plan.fields_schema,
        success_criterion=plan.success_criterion,
        zone=zone,
        started_at=_instant(item.get("call_started_at")),
    )
    local = result.callback_at.astimezone(zone) if result.callback_at and zone else None
    return {
        "id": item.get("id"),
        "disposition": result.disposition,
        "opt_out": result.opt_out,
        "callback_at_local": local.strftime("%Y-%m-%dT%H:%M") if local else None,
        "success": result.success,
        "summary": result.summary,
        "fields": result.fields,
        "reasons": result.reasons,
    }


def figures(items: list[dict], verdicts: list[dict]) -> dict:
    """Disposition accuracy, callback-time accuracy and opt-out recall over labelled items."""
    labelled = [(item["label"], verdict) for item, verdict in zip(items, verdicts, strict=True)
                if isinstance(item.get("label"), dict)]  # fmt: skip
    if not labelled:
        return {}
    right = sum(label["disposition"] == verdict["disposition"] for label, verdict in labelled)
    timed = [(label, verdict) for label, verdict in labelled if label.get("callback_at_local")]
    timed_right = sum(label["callback_at_local"] == v["callback_at_local"] for label, v in timed)
    opt_outs = [(label, verdict) for label, verdict in labelled if label.get("opt_out")]
    caught = sum(verdict["opt_out"] for _, verdict in opt_outs)
    false_opt_outs = sum(
        verdict["opt_out"] for label, verdict in labelled if not label.get("opt_out")
    )
    return {
        "items": len(labelled),
        "disposition_accuracy": round(right / len(labelled), 4),
        "callback_time_accuracy": round(timed_right / len(timed), 4) if timed else None,
        "opt_out_recall": round(caught / len(opt_outs), 4) if opt_outs else None,
        "false_opt_outs": false_opt_outs,
    }


def load_items(path: Path | str) -> list[dict]:
    items = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise ValueError("the file must hold a JSON list of objects")
    return items
