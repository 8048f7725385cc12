"""How a simulated call ends: fixed rules by the callee's number (tests), or a seeded mix (demos).

Rules by the last digit of the callee's number:

| last digit | outcome |
|---|---|
| 1 | rings, never answered (ends after the no-answer timeout, reason `failed`) |
| 2 | busy: ends right after CALLING, never rings (reason `failed`) |
| 3 | fails at once: ends after START (reason `failed`) |
| 4 | answered, and the callee never hangs up (only a hang-up request ends it) |
| 0, 5-9 | answered; the callee hangs up after N seconds |

N is the number formed by the two digits before the last (`00` means the default talk time).

So `+15550100150` talks 15 s, `+15550100001` is never answered, `+15550100004` talks until hung up.
"""

import random
from dataclasses import dataclass
from enum import StrEnum


class Outcome(StrEnum):
    ANSWERED = "answered"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    FAILED = "failed"


@dataclass(frozen=True)
class CallPlan:
    outcome: Outcome
    ring_seconds: float  # from RINGING to ANSWERED (or to the no-answer hang-up)
    talk_seconds: float | None  # None: talks until hung up


@dataclass(frozen=True)
class Timings:
    dial_seconds: float = 0.5  # START -> CALLING
    ring_after_seconds: float = 1.0  # CALLING -> RINGING
    answer_after_seconds: float = 3.0  # RINGING -> ANSWERED
    no_answer_timeout: float = 20.0  # RINGING -> HANGUP when nobody answers
    busy_after_seconds: float = 1.0  # CALLING -> HANGUP when busy
    fail_after_seconds: float = 0.5  # START -> HANGUP when the call fails
    default_talk_seconds: float = 20.0
    inbound_answer_seconds: float = 1.0  # START -> ANSWERED for inbound calls


def plan_by_rules(to_number: str, timings: Timings) -> CallPlan:
    digits = "".join(ch for ch in to_number if ch.isdigit())
    last = digits[-1:] or "0"
    if last == "1":
        return CallPlan(Outcome.NO_ANSWER, timings.no_answer_timeout, None)
    if last == "2":
        return CallPlan(Outcome.BUSY, 0.0, None)
    if last == "3":
        return CallPlan(Outcome.FAILED, 0.0, None)
    if last == "4":
        return CallPlan(Outcome.ANSWERED, timings.answer_after_seconds, None)
    talk = float(int(digits[-3:-1] or "0") or timings.default_talk_seconds)
    return CallPlan(Outcome.ANSWERED, timings.answer_after_seconds, talk)


@dataclass(frozen=True)
class RandomMix:
    """Outcome weights and ranges for demos. The same seed and call name give the same plan."""

    answered: float = 0.6
    no_answer: float = 0.2
    busy: float = 0.1
    failed: float = 0.1
    ring_seconds: tuple[float, float] = (1.0, 8.0)
    talk_seconds: tuple[float, float] = (5.0, 60.0)

    def __post_init__(self) -> None:
        weights = (self.answered, self.no_answer, self.busy, self.failed)
        if any(weight < 0 for weight in weights) or sum(weights) <= 0:
            raise ValueError("outcome mix: weights must be >= 0 and not all 0")

    def plan(self, *, seed: int, name: str, timings: Timings) -> CallPlan:
        rng = random.Random(f"{seed}:{name}")  # noqa: S311 - simulation, not security
        outcome = rng.choices(
            list(Outcome), weights=[self.answered, self.no_answer, self.busy, self.failed]
        )[0]
        if outcome is Outcome.NO_ANSWER:
            return CallPlan(outcome, timings.no_answer_timeout, None)
        if outcome is not Outcome.ANSWERED:
            return CallPlan(outcome, 0.0, None)
        return CallPlan(outcome, rng.uniform(*self.ring_seconds), rng.uniform(*self.talk_seconds))


def parse_mix(text: str) -> RandomMix:
    """`answered=0.6,no_answer=0.2,busy=0.1,failed=0.1` -> RandomMix (missing names count 0)."""
    weights = {outcome.value: 0.0 for outcome in Outcome}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, value = part.partition("=")
        if name.strip() not in weights:
            raise ValueError(f"outcome mix: unknown outcome {name.strip()!r}")
        try:
            weights[name.strip()] = float(value)
        except ValueError:
            raise ValueError(f"outcome mix: {part!r} is not name=weight") from None
    return RandomMix(**weights)
