"""A short, plausible scripted conversation for answered simulated calls, with turn metrics.

The conversation follows what the agent was told: the script's topic comes from words of the
agent's greeting and system prompt (an appointment, an order, a subscription); an agent that says
none of them gets a neutral exchange that does not contradict its greeting."""

import random

DEFAULT_GREETING = "Hello! This is your assistant calling. Do you have a minute?"

# (user, assistant) exchanges after the greeting; a call uses as many as its length allows.
# Each topic's script, with the words that choose it.
TOPICS: tuple[tuple[tuple[str, ...], tuple[tuple[str, str], ...]], ...] = (
    (
        ("appointment", "booking", "visit", "reschedul", "confirm"),
        (
            ("Yes, who is this?", "I'm calling to confirm your appointment on Thursday at 10 a.m."),
            (
                "Oh right, Thursday works.",
                "Great, you're confirmed. Would you like a text reminder?",
            ),
            ("Yes please.", "Done. You'll get a reminder the day before."),
            ("Thanks.", "You're welcome. Have a good day!"),
        ),
    ),
    (
        ("order", "delivery", "feedback", "package", "survey"),
        (
            ("Sure, go ahead.", "We'd love your feedback on your recent order. How was delivery?"),
            ("It arrived a day late.", "I'm sorry about that. Was everything in the box?"),
            ("Yes, all there.", "Thank you. I've noted the delay for our logistics team."),
            ("Okay, bye.", "Thanks for your time. Goodbye!"),
        ),
    ),
    (
        ("subscription", "renew", "plan", "billing", "membership"),
        (
            ("What is this about?", "Your subscription renews next week. Shall I keep the plan?"),
            ("Can I switch to monthly?", "Yes, I can switch you to monthly billing now."),
            ("Please do.", "All set: monthly billing starts at your next renewal."),
            ("Great, thanks.", "My pleasure. Goodbye!"),
        ),
    ),
)
NEUTRAL: tuple[tuple[str, str], ...] = (
    ("Yes, speaking.", "Thanks for taking my call. It will only take a moment."),
    ("Okay, go on.", "That's everything I needed to go over with you today."),
    ("Alright, thanks.", "Thank you for your time. Goodbye!"),
)


def script_for(text: str) -> tuple[tuple[str, str], ...]:
    """The script whose topic the agent's own words name; a neutral one otherwise."""
    words = text.lower()
    for keys, script in TOPICS:
        if any(key in words for key in keys):
            return script
    return NEUTRAL


SECONDS_PER_EXCHANGE = 8.0


def conversation(
    *, seed: str, greeting: str | None, talk_seconds: float, prompt: str = ""
) -> list[dict[str, str]]:
    """Messages (role, content) for a call that talks `talk_seconds`, greeting first, on the
    topic of the agent's greeting and system prompt. A pipeline call (no greeting sent) gets one
    of the scripts, by `seed`."""
    if greeting or prompt:
        script = script_for(f"{greeting or ''} {prompt}")
    else:
        rng = random.Random(seed)  # noqa: S311 - simulation, not security
        script = rng.choice([script for _, script in TOPICS])
    exchanges = max(1, min(len(script), int(talk_seconds // SECONDS_PER_EXCHANGE)))
    messages = [{"role": "assistant", "content": greeting or DEFAULT_GREETING}]
    for user, assistant in script[:exchanges]:
        messages.append({"role": "user", "content": user})
        messages.append({"role": "assistant", "content": assistant})
    return messages


def messages_so_far(messages: list[dict[str, str]], *, elapsed: float, talk: float) -> list:
    """The part of the conversation spoken after `elapsed` of `talk` seconds."""
    if talk <= 0 or elapsed >= talk:
        return list(messages)
    spoken = 1 + int((len(messages) - 1) * max(elapsed, 0.0) / talk)
    return list(messages[:spoken])


def turns(
    *, seed: str, agent_id: str, channel: str, messages: list, answered_ms: int, talk_ms: int
) -> list[dict]:
    """One turn per assistant message, spread over the talk time, with latency metrics."""
    rng = random.Random(f"turns:{seed}")  # noqa: S311 - simulation, not security
    replies = [index for index, message in enumerate(messages) if message["role"] == "assistant"]
    span = max(talk_ms, 1000) // max(len(replies), 1)
    result = []
    for number, index in enumerate(replies, start=1):
        start_at = answered_ms + (number - 1) * span
        asr, ttft, tts = rng.randint(80, 250), rng.randint(200, 600), rng.randint(90, 300)
        start: dict = {"start_at": start_at, "type": "greeting", "metadata": {"greeting_nth": 1}}
        if index > 0:
            speech = rng.randint(800, 3000)
            start = {
                "start_at": start_at,
                "type": "voice_input",
                "metadata": {"speech_duration_ms": speech, "interrupt_duration_ms": 160},
            }
        result.append(
            {
                "agent_id": agent_id,
                "channel": channel,
                "turn_id": number,
                "start": start,
                "end": {
                    "end_at": start_at + span - 200,
                    "type": "ok",
                    "metadata": {"playback_duration_ms": span - 400},
                },
                "metrics": {
                    "e2e_latency_ms": asr + ttft + tts,
                    "segmented_latency_ms": [
                        {"name": "asr_ttlw", "latency": asr},
                        {"name": "llm_ttft", "latency": ttft},
                        {"name": "tts_ttfb", "latency": tts},
                    ],
                },
            }
        )
    return result
