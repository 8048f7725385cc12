"""Is the callee a voicemail box? A transcript detector that reads the first turns of a call.

Agora has no answering-machine detection: this reads what the callee side said in the first
seconds after the answer (the agent's history) and recognises machine greetings ("leave a message
after the tone", "is not available", "the mailbox is full") in English, Spanish, French and
German, and beep cues in a long first utterance. No Django: `manage.py detect_voicemail` and the
labelled set in `telephony/voicemail_labelled.json` use it as it is; tests/telephony/
test_voicemail.py measures its precision and recall on that set.
"""

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

CALLEE_ROLES = frozenset({"user", "callee", "human"})

# Fragments of machine greetings, accents removed and lower-cased (see _plain).
MACHINE_PHRASES: dict[str, tuple[str, ...]] = {
    "en": (
        "leave a message", "leave your message", "leave your name and number",
        "after the tone", "after the beep", "at the tone", "is not available",
        "are not available", "can't take your call", "cannot take your call",
        "can't come to the phone", "cannot come to the phone", "mailbox is full",
        "voice mailbox", "record your message", "has been forwarded to voicemail",
        "forwarded to an automatic voice message system", "please record",
        "cannot accept any messages", "cannot accept messages", "can't accept any messages",
    ),
    "es": (
        "deje su mensaje", "deje un mensaje", "dejar un mensaje", "despues de la senal",
        "despues del tono", "buzon de voz", "no esta disponible", "no puede atender",
        "buzon esta lleno", "grabe su mensaje",
    ),
    "fr": (
        "laissez un message", "laissez-moi un message", "laisser un message",
        "apres le bip", "apres le signal sonore", "messagerie vocale", "n'est pas disponible",
        "ne suis pas disponible", "boite vocale", "la messagerie de",
    ),
    "de": (
        "hinterlassen sie eine nachricht", "hinterlassen sie mir eine nachricht",
        "nach dem signalton", "nach dem piepton", "nach dem ton", "ist nicht erreichbar",
        "ist zurzeit nicht erreichbar", "sprachbox", "anrufbeantworter", "mailbox ist voll",
        "mailbox von",
    ),
}  # fmt: skip
BEEP = re.compile(r"(\bbeep\b|\bbip\b|\bpiep\b|\[tone\]|\*tone\*|\(tone\))")
LONG_FIRST_UTTERANCE_WORDS = 25


@dataclass(frozen=True)
class Verdict:
    machine: bool
    reasons: tuple[str, ...]


def _plain(text: str) -> str:
    """Lower case, accents removed, one space between words, curly apostrophes straight."""
    text = unicodedata.normalize("NFKD", text.replace("\u2019", "'"))
    text = "".join(char for char in text if not unicodedata.combining(char))
    return " ".join(text.lower().split())


def callee_turns(first_turns: Any) -> list[str]:
    """What the callee side said, in order (malformed entries are skipped)."""
    if not isinstance(first_turns, list):
        return []
    return [
        str(turn.get("content", ""))
        for turn in first_turns
        if isinstance(turn, dict) and str(turn.get("role", "")).lower() in CALLEE_ROLES
    ]


def detect_voicemail(first_turns: Any) -> Verdict:
    """A voicemail box when the callee's first two turns hold a machine greeting, or a beep cue
    in a long first utterance (a person rarely speaks 25 words before the agent answers)."""
    spoken = callee_turns(first_turns)[:2]
    if not spoken:
        return Verdict(False, ())
    text = _plain(" ".join(spoken))
    reasons = [
        f"{language}: '{phrase}'"
        for language, phrases in MACHINE_PHRASES.items()
        for phrase in phrases
        if phrase in text
    ]
    first_words = len(_plain(spoken[0]).split())
    if BEEP.search(text) and first_words >= LONG_FIRST_UTTERANCE_WORDS:
        reasons.append(f"a beep after a {first_words}-word first utterance")
    return Verdict(bool(reasons), tuple(reasons))


def precision_recall(verdicts: list[tuple[bool, bool]]) -> dict[str, float | int]:
    """From (said machine, is machine) pairs: precision, recall, and humans taken for machines."""
    true_pos = sum(1 for said, truth in verdicts if said and truth)
    false_pos = sum(1 for said, truth in verdicts if said and not truth)
    false_neg = sum(1 for said, truth in verdicts if not said and truth)
    humans = sum(1 for _, truth in verdicts if not truth)
    return {
        "items": len(verdicts),
        "precision": true_pos / (true_pos + false_pos) if true_pos + false_pos else 1.0,
        "recall": true_pos / (true_pos + false_neg) if true_pos + false_neg else 1.0,
        "humans_taken_for_machines": false_pos / humans if humans else 0.0,
    }
