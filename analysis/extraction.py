"""The built-in analyzer's reading of a plan's fields: deterministic, so modest.

A field is read from the callee's answer to the agent's question about it: the first callee turn
after the last agent turn that names the field (a word of its name, or of its description, four
letters or more). From that answer: a boolean is its yes or no; a number its first number; a
date the day it names (in the callee's zone); an enum the choice it names (the last one named,
people correct themselves); a string the answer's words. Two exceptions need no question: an
e-mail address and an enum choice the callee names anywhere. What is not found stays null; an
LLM analyzer reads more.
"""

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from analysis.callback_time import NUMBERS, named_day, plain
from telephony.analysis_fields import FieldSpec, fields_of

YES = re.compile(r"^\W*(yes|yeah|yep|sure|of course|correct|right|absolutely|si|claro|correcto)\b")
NO = re.compile(r"^\W*(no|nope|not really|never|nunca|para nada)\b")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
NUMBER = re.compile(r"(?<![\w.])-?\d[\d,]*(\.\d+)?")
STOP_WORDS = frozenset(
    {"what", "which", "their", "there", "about", "with", "from", "that", "this", "they", "have",
     "does", "want", "would", "like", "your"}
)  # fmt: skip
MAX_STRING = 200


def _keywords(spec: FieldSpec) -> set[str]:
    words = set(re.split(r"[_\W]+", plain(spec.name)))
    words |= set(re.findall(r"[a-z]+", plain(spec.description)))
    return {word for word in words if len(word) >= 4 and word not in STOP_WORDS}


def _answer(turns, spec: FieldSpec) -> str | None:
    """The callee's answer to the last question that names the field."""
    keywords = _keywords(spec)
    answer = None
    for index, turn in enumerate(turns):
        if turn.by_callee or not keywords & set(re.findall(r"[a-z]+", plain(turn.content))):
            continue
        reply = next((t.content for t in turns[index + 1 :] if t.by_callee), None)
        answer = reply or answer
    return answer


def _number(text: str) -> float | int | None:
    found = NUMBER.search(text)
    if found:
        value = float(found.group(0).replace(",", ""))
        return int(value) if value.is_integer() else value
    for word in re.findall(r"[a-z]+", plain(text)):
        if word in NUMBERS and word not in ("a", "an", "un"):
            value = NUMBERS[word]
            return int(value) if float(value).is_integer() else value
    return None


def _choice(text: str, choices: tuple[str, ...]) -> str | None:
    said = plain(text)
    named = [(match.start(), choice) for choice in choices
             for match in re.finditer(rf"\b{re.escape(plain(choice))}\b", said)]  # fmt: skip
    return max(named)[1] if named else None


def _read(spec: FieldSpec, turns, zone: ZoneInfo | None, started_at: datetime | None):
    callee = " \n ".join(turn.content for turn in turns if turn.by_callee)
    if spec.type == "enum" and (choice := _choice(callee, spec.choices)):
        return choice
    if spec.type == "string" and "email" in _keywords(spec) | {plain(spec.name)}:
        found = EMAIL.search(callee)
        return found.group(0) if found else None
    answer = _answer(turns, spec)
    if answer is None:
        return None
    if spec.type == "boolean":
        words = plain(answer)
        return True if YES.search(words) else False if NO.search(words) else None
    if spec.type == "number":
        return _number(answer)
    if spec.type == "date":
        if zone is None or started_at is None:
            return None
        day = named_day(answer, zone=zone, now=started_at)
        return day.isoformat() if day else None
    if spec.type == "string":
        return answer[:MAX_STRING]
    return None


def extract_fields(turns, schema: dict, *, zone: ZoneInfo | None,
                   started_at: datetime | None) -> dict:  # fmt: skip
    """Every field of the plan, null when the conversation did not give it."""
    return {spec.name: _read(spec, turns, zone, started_at) for spec in fields_of(schema)}
