"""The built-in analyzer, measured on the labelled set kept in the repo
(analysis/labelled_transcripts.json), and run by `manage.py analyze_transcripts`."""

import json
from collections import Counter
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command

from analysis.builtin import analyze
from analysis.callback_time import callback_time
from analysis.evaluation import LABELLED_SET, Plan, analyze_item, figures, load_items
from telephony.outcomes import DEFAULT_OUTCOMES

# The thresholds the README states; opt-out recall must be total (a missed opt-out is a
# compliance failure) and no one may be opted out who did not ask.
MIN_DISPOSITION_ACCURACY = 0.9
MIN_CALLBACK_TIME_ACCURACY = 0.9
NEW_YORK = ZoneInfo("America/New_York")
WEDNESDAY_1PM = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)  # 13:00 in New York


def test_the_labelled_set_is_large_enough_and_covers_every_disposition_in_two_languages():
    items = load_items(LABELLED_SET)
    assert len(items) >= 80
    assert set(Counter(item["label"]["disposition"] for item in items)) == set(DEFAULT_OUTCOMES)
    assert Counter(item["language"] for item in items)["es"] >= 15


def test_accuracy_on_the_labelled_set(capsys):
    items = load_items(LABELLED_SET)
    verdicts = [analyze_item(item, Plan()) for item in items]
    measured = figures(items, verdicts)
    with capsys.disabled():
        print(f"\nbuilt-in analyzer on the labelled set: {json.dumps(measured)}")
    assert measured["disposition_accuracy"] >= MIN_DISPOSITION_ACCURACY
    assert measured["callback_time_accuracy"] >= MIN_CALLBACK_TIME_ACCURACY
    assert measured["opt_out_recall"] == 1.0
    assert measured["false_opt_outs"] == 0


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("Can you call me back tomorrow at 3 pm?", "2026-11-26 15:00"),
        ("Call me next Tuesday at 11", "2026-12-01 11:00"),
        ("Try me again at four-thirty this afternoon", "2026-11-25 16:30"),
        ("This evening at 6 works", "2026-11-25 18:00"),
        ("Call me in two hours", "2026-11-25 15:00"),
        ("Thursday's a holiday, call me Friday at three in the afternoon", "2026-11-27 15:00"),
        ("Call me on the twenty-eighth at two in the afternoon", "2026-11-28 14:00"),
        ("Llámeme mañana a las cinco de la tarde", "2026-11-26 17:00"),
        ("¿Me puede llamar dentro de dos horas?", "2026-11-25 15:00"),
        ("mañana por la mañana a las diez", "2026-11-26 10:00"),
    ],
)
def test_callback_times_in_the_callees_words(words, expected):
    found = callback_time(words, zone=NEW_YORK, now=WEDNESDAY_1PM)
    assert found.strftime("%Y-%m-%d %H:%M") == expected
    assert found.tzinfo == NEW_YORK


@pytest.mark.parametrize("words", ["Call me back later", "Call me at a better time", "Sure"])
def test_no_time_named_is_no_time(words):
    assert callback_time(words, zone=NEW_YORK, now=WEDNESDAY_1PM) is None


def said(*callee_turns: str) -> list[dict]:
    turns = [{"role": "assistant", "content": "Hi, this is Acme calling about your plan."}]
    for words in callee_turns:
        turns += [{"role": "user", "content": words}, {"role": "assistant", "content": "I see."}]
    return turns


@pytest.mark.parametrize(
    ("callee", "disposition", "opt_out"),
    [
        (["Yes, speaking.", "Take me off your list, please."], "do_not_call", True),
        (["Yes.", "You don't have to take me off any list. I'm just not interested."],
         "not_interested", False),
        (["Yes.", "Stop calling me at work! Call me tomorrow at 7 pm."],
         "callback_requested", False),
        (["Wrong number, there's no Maria here."], "wrong_number", False),
        (["Hello?"], "no_conversation", False),
        (["Yes.", "That sounds great, sign me up."], "interested", False),
        (["Sí, soy yo.", "No me vuelvan a llamar, por favor."], "do_not_call", True),
    ],
)  # fmt: skip
def test_rules_say_what_decided(callee, disposition, opt_out):
    result = analyze(said(*callee), dispositions=DEFAULT_OUTCOMES, zone=NEW_YORK,
                     started_at=WEDNESDAY_1PM)  # fmt: skip
    assert (result.disposition, result.opt_out) == (disposition, opt_out)
    assert result.reasons and result.summary.startswith("Outcome:")


def test_a_plan_without_the_rules_disposition_falls_back_to_its_first():
    result = analyze(said("Yes.", "Sign me up."), dispositions=["booked", "lost"])
    assert result.disposition == "booked"
    assert "'interested' is not in the plan" in result.reasons


def test_the_command_prints_a_result_per_item_and_the_figures(tmp_path, capsys):
    items = load_items(LABELLED_SET)[:5]
    path = tmp_path / "calls.json"
    path.write_text(json.dumps(items))
    call_command("analyze_transcripts", str(path))
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["id"] for line in lines[:-1]] == [item["id"] for item in items]
    assert lines[-1]["figures"]["items"] == 5

    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"dispositions": ["yes", "no"]}))
    call_command("analyze_transcripts", str(path), "--plan", str(plan))
    assert {json.loads(line).get("disposition") for line in capsys.readouterr().out.splitlines()
            } <= {"yes", "no", None}  # fmt: skip

    path.write_text("{}")
    with pytest.raises(CommandError, match="JSON list of objects"):
        call_command("analyze_transcripts", str(path))
