"""Scripted callees: what the person (or machine) who answers says, and which in-call tools a
simulated agent calls in answer, chosen by the callee's number like the outcome rules.

Only numbers in the 555 exchange (the last seven digits read 555-SNNO), by S, the fourth digit from
the end (the last three stay the outcome rules'); every other number is a person as before:

| digit | callee | tools the agent calls (when the call carries `mcp_servers`) |
|---|---|---|
| 5 | a voicemail box: a machine greeting, then the beep | voicemail_detected |
| 6 | asks to be called back "tomorrow at 3 pm" (`--callback-when`) | schedule_callback, end_call |
| 7 | asks not to be called again | opt_out, end_call |
| 8 | is interested and completes the conversation | get_contact, record_outcome, end_call |
| other | today's conversation on the agent's topic (conversation.py) | none |

So `+14155556150` asks for a callback and would talk 15 s; `+14155555004` is a voicemail box
that never hangs up; `+14152056010` (not in the 555 exchange) is a person. Each tool is called
when the message it answers has been spoken.
"""

from dataclasses import dataclass, field
from enum import StrEnum


class Callee(StrEnum):
    PERSON = "person"
    VOICEMAIL = "voicemail"
    CALLBACK = "callback"
    OPT_OUT = "opt_out"
    OUTCOME = "outcome"


BY_DIGIT = {"5": Callee.VOICEMAIL, "6": Callee.CALLBACK, "7": Callee.OPT_OUT, "8": Callee.OUTCOME}

VOICEMAIL_GREETING = (
    "Hi, you've reached the voicemail of Ada. I can't take your call right now. "
    "Please leave a message after the tone."
)
CALLBACK_WHEN = "tomorrow at 3 pm"  # what the callback callee asks for (SimulatorConfig)
OPT_OUT_WORDS = "Please stop calling me and take my number off your list."


@dataclass(frozen=True)
class ToolStep:
    after_message: int  # the index of the message this tool call answers
    tool: str
    arguments: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Script:
    callee: Callee
    messages: tuple[tuple[str, str], ...]  # (role, content) after the agent's greeting
    steps: tuple[ToolStep, ...]


def _scripts(callback_when: str) -> dict[Callee, Script]:
    return {
        callee: script for callee, script in _SCRIPTS.items() if callee is not Callee.CALLBACK
    } | {Callee.CALLBACK: _callback_script(callback_when)}


def _callback_script(when: str) -> Script:
    return Script(
        Callee.CALLBACK,
        (
            ("user", f"I'm driving right now. Can you call me back {when}?"),
            ("assistant", f"Of course. I'll call you back {when}. Drive safely, bye!"),
        ),
        (
            ToolStep(1, "schedule_callback", {"when": when, "note": "driving"}),
            ToolStep(2, "end_call", {"reason": "callback scheduled"}),
        ),
    )


_SCRIPTS = {
    Callee.VOICEMAIL: Script(
        Callee.VOICEMAIL,
        (("user", VOICEMAIL_GREETING), ("user", "Beep.")),
        (ToolStep(2, "voicemail_detected"),),
    ),
    Callee.OPT_OUT: Script(
        Callee.OPT_OUT,
        (
            ("user", OPT_OUT_WORDS),
            ("assistant", "I'm sorry for the trouble. You won't be called again. Goodbye."),
        ),
        (
            ToolStep(1, "opt_out", {"note": OPT_OUT_WORDS}),
            ToolStep(2, "end_call", {"reason": "opted out"}),
        ),
    ),
    Callee.OUTCOME: Script(
        Callee.OUTCOME,
        (
            ("user", "Yes, that sounds interesting. Tell me more."),
            ("assistant", "The basic plan is ten dollars a month. Shall I send you the details?"),
            ("user", "Yes please, send them by email."),
            ("assistant", "Done. Thank you for your time, goodbye!"),
        ),
        (
            ToolStep(0, "get_contact"),
            ToolStep(
                3,
                "record_outcome",
                {"outcome": "interested", "fields": {"next_step": "send details by email"}},
            ),
            ToolStep(4, "end_call", {"reason": "conversation done"}),
        ),
    ),
}


def callee_for(to_number: str) -> Callee:
    digits = "".join(ch for ch in to_number if ch.isdigit())
    if digits[-7:-4] != "555":
        return Callee.PERSON
    return BY_DIGIT.get(digits[-4:-3], Callee.PERSON)


def script_for(callee: Callee | str, *, callback_when: str = CALLBACK_WHEN) -> Script | None:
    return _scripts(callback_when).get(Callee(callee))
