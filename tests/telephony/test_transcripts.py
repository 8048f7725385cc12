"""Piecing a transcript together from looks at Agora's history, which holds only the newest
`llm.max_history` messages (telephony.transcripts)."""

from hypothesis import given
from hypothesis import strategies as st

from telephony.transcripts import MISSED, history_window, merged


def said(*contents: str) -> list[dict[str, str]]:
    return [
        {"role": "assistant" if index % 2 == 0 else "user", "content": content}
        for index, content in enumerate(contents)
    ]


def test_a_look_that_holds_the_whole_conversation_replaces_what_is_kept():
    assert merged(said("Hi", "Hello"), said("Hi", "Hello", "How are you?")) == said(
        "Hi", "Hello", "How are you?"
    )
    assert merged([], said("Hi")) == said("Hi")


def test_a_moved_window_adds_only_what_follows_the_overlap():
    whole = said("a", "b", "c", "d", "e", "f")
    assert merged(whole[:4], whole[2:]) == whole


def test_a_look_with_nothing_new_changes_nothing():
    whole = said("a", "b", "c", "d", "e", "f")
    assert merged(whole, whole[3:]) == whole  # the newest window, nothing after it
    assert merged(whole, whole[1:3]) == whole  # an older window (a late answer)
    assert merged(whole, []) == whole


def test_a_repeated_message_is_not_taken_for_a_new_one():
    kept = said("Is that right?", "Thank you.", "Is that right?", "Thank you.")
    assert merged(kept, kept[2:]) == kept
    assert merged(kept, [*kept[2:], {"role": "assistant", "content": "Bye."}]) == [
        *kept, {"role": "assistant", "content": "Bye."},
    ]  # fmt: skip


def test_a_window_that_moved_past_what_is_kept_is_marked_not_hidden():
    whole = said("a", "b", "c", "d", "e", "f", "g", "h")
    assert merged(whole[:3], whole[5:]) == [*whole[:3], MISSED, *whole[5:]]


@given(
    length=st.integers(min_value=1, max_value=80),
    window=st.integers(min_value=2, max_value=32),
    steps=st.lists(st.integers(min_value=1, max_value=31), min_size=1, max_size=60),
)
def test_looks_closer_than_a_window_apart_keep_the_whole_conversation(length, window, steps):
    """However the looks fall, each fewer new messages than the window holds after the last,
    the merged transcript is the conversation so far: nothing lost, nothing doubled."""
    whole = said(*(f"message {index}" for index in range(length)))
    kept: list[dict[str, str]] = []
    spoken = 0
    for step in steps:
        spoken = min(length, spoken + min(step, window - 1))
        kept = merged(kept, whole[:spoken][-window:])
        assert kept == whole[:spoken]


def test_the_window_is_the_agents_max_history_or_agoras_default():
    assert history_window({"llm": {"max_history": 8}}) == 8
    assert history_window({"llm": {"max_history": "8"}}) == 32
    assert history_window({"llm": {}}) == history_window(None) == 32
