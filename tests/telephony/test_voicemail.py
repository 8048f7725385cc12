"""The voicemail transcript detector, measured on the labelled set kept in the repo
(telephony/voicemail_labelled.json: machine greetings and human openings in English, Spanish,
French and German, written for this), and its command."""

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

import telephony
from telephony.voicemail import detect_voicemail, precision_recall

LABELLED = Path(telephony.__file__).parent / "voicemail_labelled.json"


def labelled_items() -> list[dict]:
    return json.loads(LABELLED.read_text(encoding="utf-8"))


def test_the_labelled_set_is_large_enough_and_covers_four_languages():
    items = labelled_items()
    assert len(items) >= 60
    assert {item["id"][:2] for item in items} == {"en", "es", "fr", "de"}
    for language in ("en", "es", "fr", "de"):
        labels = {item["label"] for item in items if item["id"].startswith(language)}
        assert labels == {"machine", "human"}, language


def test_precision_recall_and_humans_taken_for_machines_on_the_labelled_set():
    items = labelled_items()
    figures = precision_recall(
        [(detect_voicemail(item["first_turns"]).machine, item["label"] == "machine")
         for item in items]
    )  # fmt: skip

    print(f"voicemail detector on {LABELLED.name}: {figures}")
    assert figures["humans_taken_for_machines"] < 0.02
    assert figures["precision"] >= 0.95 and figures["recall"] >= 0.9


@pytest.mark.parametrize(
    "said",
    ["I got your message yesterday, what's this about?", "I'm not available on Thursday.",
     "Hello? Hello? Can you hear me?", "Yes, leave it with me, I'll check my calendar."],
)  # fmt: skip
def test_a_person_mentioning_messages_or_availability_is_not_a_machine(said):
    assert not detect_voicemail([{"role": "user", "content": said}]).machine


def test_the_verdict_says_why_and_ignores_what_the_agent_said():
    verdict = detect_voicemail([
        {"role": "assistant", "content": "Please leave a message after the tone."},
        {"role": "user", "content": "Bonjour, laissez un message après le bip."},
    ])  # fmt: skip
    assert verdict.machine
    assert verdict.reasons == ("fr: 'laissez un message'", "fr: 'apres le bip'")
    assert not detect_voicemail([{"role": "assistant", "content": "leave a message"}]).machine
    assert not detect_voicemail("not a list").machine


def test_the_command_prints_a_verdict_per_item_and_the_figures(tmp_path):
    out = StringIO()
    call_command("detect_voicemail", str(LABELLED), stdout=out)

    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(lines) == len(labelled_items()) + 1
    assert lines[0].keys() >= {"id", "voicemail", "reasons", "label"}
    assert lines[-1]["summary"]["items"] == len(labelled_items())

    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(CommandError, match="is not JSON"):
        call_command("detect_voicemail", str(bad), stdout=StringIO())
