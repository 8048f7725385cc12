"""The simulator's scripted conversation keeps to what the agent was told to talk about."""

import pytest

from telephony.simulator.conversation import NEUTRAL, conversation
from telephony.simulator.validation import system_prompt_of


def said(messages) -> str:
    return " ".join(message["content"] for message in messages[1:])


@pytest.mark.parametrize(
    ("greeting", "prompt", "topic_word"),
    [
        ("Hi Ada, this is Acme calling about your appointment.", "", "appointment"),
        ("Hello Ada!", "You ask customers for feedback on their last order.", "delivery"),
        ("Hi, it's Acme.", "Remind the customer that their subscription renews soon.", "billing"),
    ],
)
def test_the_conversation_follows_the_greeting_and_the_prompt(greeting, prompt, topic_word):
    messages = conversation(seed="a", greeting=greeting, prompt=prompt, talk_seconds=40)

    assert messages[0] == {"role": "assistant", "content": greeting}
    assert topic_word in said(messages)


def test_an_agent_naming_no_topic_gets_a_neutral_exchange_that_does_not_contradict_it():
    greeting = "Good morning Grace, this is the clinic."
    messages = conversation(seed="b", greeting=greeting, talk_seconds=40)

    assert [message["content"] for message in messages[1:]] == [
        line for exchange in NEUTRAL for line in exchange
    ]
    for other in ("appointment", "order", "subscription"):
        assert other not in said(messages)


def test_the_system_prompt_is_read_from_the_agents_llm_settings():
    llm = {"system_messages": [{"role": "system", "content": "Confirm the booking."}, "junk"]}
    assert system_prompt_of(llm) == "Confirm the booking."
    assert system_prompt_of({}) == "" and system_prompt_of(None) == ""
