"""A call's transcript, pieced together from what Agora returns of it.

Agora's agent history holds only the newest `llm.max_history` messages (32 unless the agent's
properties say otherwise), while the agent runs. A long conversation is therefore kept by
merging each look at the history into what is kept: the look's start overlaps the kept end,
and what follows is new. Looks must come before the window has moved past the kept end: the
snapshot schedule (telephony.services.calls.snapshot_keep) keeps its gaps under half a window
at the conversation's own pace, and when a look still finds no overlap the gap is marked in
the transcript rather than hidden.
"""

from typing import Any

DEFAULT_HISTORY_WINDOW = 32
MISSED = {"role": "system", "content": "[messages missing here: Agora's history window moved on]"}

Message = dict[str, str]


def merged(kept: list[Message], latest: list[Message]) -> list[Message]:
    """What is kept, with the new messages of a later look at the history appended.

    The longest overlap of the kept end with the look's start wins: a message repeated word for
    word ("Thank you.") is never taken for a new one twice. A look that holds nothing beyond
    what is kept changes nothing."""
    if not kept:
        return list(latest)
    if not latest:
        return list(kept)
    if len(latest) >= len(kept) and latest[: len(kept)] == kept:
        return list(latest)  # the whole conversation, grown
    for size in range(min(len(kept), len(latest)), 0, -1):
        if kept[-size:] == latest[:size]:
            return kept + latest[size:]
    if _contains(kept, latest):
        return list(kept)  # an older window: nothing new
    return [*kept, MISSED, *latest]


def _contains(kept: list[Message], part: list[Message]) -> bool:
    starts = range(len(kept) - len(part) + 1)
    return any(kept[start : start + len(part)] == part for start in starts)


def history_window(properties: Any) -> int:
    """How many messages Agora keeps of a call's history: the agent's `llm.max_history`."""
    llm = properties.get("llm") if isinstance(properties, dict) else None
    size = llm.get("max_history") if isinstance(llm, dict) else None
    return size if isinstance(size, int) and size > 0 else DEFAULT_HISTORY_WINDOW
