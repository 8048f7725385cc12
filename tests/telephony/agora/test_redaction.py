"""telephony.agora.redaction: key patterns, value scrubbing and the logging filter."""

import logging
import sys
import threading

import pytest

from telephony.agora.redaction import (
    MASK,
    REDACTED,
    SECRET_KEY_PATTERN,
    RedactingFilter,
    redact,
    register_secret,
    scrub,
)

AGORA_TOKEN = (
    "006" + "0123456789abcdef0123456789abcdef" + "IACx/9+AbCdEfGhIjKlMnOpQrStUvWxYz0123456789=="
)


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "PASSWORD",
        "sip_password",
        "passwd",
        "secret",
        "customer_secret",
        "webhook_secret",
        "app_certificate",
        "token",
        "rtc_token",
        "agent-token",
        "Authorization",
        "api_key",
        "apiKey",
        "API-KEY",
        "key",
        "credential",
        "credentials",
        "private_key",
    ],
)
def test_secret_keys_match(key):
    assert SECRET_KEY_PATTERN.search(key)


@pytest.mark.parametrize(
    "key",
    [
        "agent_rtc_uid",
        "rtc_uid",
        "channel",
        "pipeline_id",
        "total_turn_count",
        "token_ttl",
        "max_tokens",
        "monkey",
        "keyboard",
        "name",
        "to_number",
        "turn_id",
    ],
)
def test_ordinary_keys_do_not_match(key):
    assert not SECRET_KEY_PATTERN.search(key)


def test_redact_deep_copies_and_blanks_secret_keys():
    original = {
        "name": "call-1",
        "sip": {"to_number": "+15550001111", "rtc_uid": "100", "rtc_token": "abc-def-ghi"},
        "properties": {
            "channel": "ch-1",
            "token": "tok-tok-tok",
            "agent_rtc_uid": "111",
            "llm": {"api_key": "sk-live-123456", "params": {"max_tokens": 64}},
            "remote_rtc_uids": ["100"],
        },
        "outbound_config": [{"user": "bob", "password": "hunter22"}],
        "empty_secret": None,
    }
    result = redact(original)
    assert result == {
        "name": "call-1",
        "sip": {"to_number": "+15550001111", "rtc_uid": "100", "rtc_token": REDACTED},
        "properties": {
            "channel": "ch-1",
            "token": REDACTED,
            "agent_rtc_uid": "111",
            "llm": {"api_key": REDACTED, "params": {"max_tokens": 64}},
            "remote_rtc_uids": ["100"],
        },
        "outbound_config": [{"user": "bob", "password": REDACTED}],
        "empty_secret": None,
    }
    # The input is untouched and nothing is shared.
    assert original["sip"]["rtc_token"] == "abc-def-ghi"
    result["properties"]["remote_rtc_uids"].append("x")
    assert original["properties"]["remote_rtc_uids"] == ["100"]


def test_redact_for_a_page_shows_a_mask_and_leaves_blank_secrets_blank():
    register_secret("registered-value-78")
    data = {"password": "hunter22", "token": "", "api_key": None, "note": "registered-value-78"}

    shown = redact(data, mask=MASK, keep_blank=True)

    # an empty secret shows as empty on a page (there is nothing to keep), but not in logs
    assert shown == {"password": MASK, "token": "", "api_key": None, "note": REDACTED}
    assert redact(data)["token"] == REDACTED


def test_redact_without_scrubbing_leaves_text_whole():
    register_secret("registered-value-79")
    data = {"headers": ["Bearer abcdefgh12345", "registered-value-79"], "secret": "s3cret-1"}

    assert redact(data, mask=MASK, scrub_text=False) == {
        "headers": ["Bearer abcdefgh12345", "registered-value-79"],
        "secret": MASK,
    }


def test_redact_scrubs_strings_everywhere():
    register_secret("registered-value-77")
    data = {"note": "said registered-value-77 aloud", "items": ("x", f"t={AGORA_TOKEN}"), "n": 3}
    assert redact(data) == {
        "note": f"said {REDACTED} aloud",
        "items": ("x", f"t={REDACTED}"),
        "n": 3,
    }


def test_register_secret_ignores_empty_and_short_values():
    register_secret(None)
    register_secret("")
    register_secret("abc12")  # < 6 characters: would redact ordinary words
    assert scrub("abc12 is fine") == "abc12 is fine"


def test_scrub_registered_secret_and_its_encoded_forms():
    secret = 'p@ss/word+"quoted"'
    register_secret(secret)
    assert scrub(f"x {secret} y") == f"x {REDACTED} y"
    assert secret not in scrub('{"password": "p@ss/word+\\"quoted\\""}')
    assert "p%40ss%2Fword" not in scrub("sip:bob:p%40ss%2Fword%2B%22quoted%22@host")


@pytest.mark.parametrize(
    ("text", "leaked"),
    [
        ("Authorization: Basic Y3VzdC1pZDpzZWNyZXQtdmFsdWU=", "Y3VzdC1pZDpzZWNyZXQtdmFsdWU="),
        ("header basic Y3VzdC1pZDpzZWNyZXQ= end", "Y3VzdC1pZDpzZWNyZXQ="),
        ("Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig", "eyJhbGciOiJIUzI1NiJ9"),
        ("Authorization: agora token=abcdefghij007xyz", "abcdefghij007xyz"),
        (f"token {AGORA_TOKEN} expired", AGORA_TOKEN[:20]),
        ("007" + "eJxSYmBg" * 8 + " trailing", "eJxSYmBg"),
        ("{'authorization': 'Digest username=x'}", "Digest username"),
    ],
)
def test_scrub_credential_shapes(text, leaked):
    cleaned = scrub(text)
    assert leaked not in cleaned
    assert REDACTED in cleaned


def test_scrub_leaves_ordinary_text_alone():
    text = "POST /v2/projects/abc/call -> 409 TaskConflict: call +15550001111 agent A42AK62PE"
    assert scrub(text) == text
    # Digits that merely start with 006 are not tokens.
    assert scrub("order 0061234") == "order 0061234"


def test_register_secret_is_thread_safe():
    values = [f"thread-secret-{i:04d}" for i in range(200)]
    threads = [
        threading.Thread(target=lambda chunk=values[i::4]: [register_secret(v) for v in chunk])
        for i in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    text = " ".join(values)
    assert scrub(text) == " ".join([REDACTED] * len(values))


def test_ephemeral_secrets_are_bounded(monkeypatch):
    from telephony.agora import redaction

    monkeypatch.setattr(redaction, "MAX_EPHEMERAL_SECRETS", 2)
    register_secret("ephemeral-one-111", ephemeral=True)
    register_secret("ephemeral-two-222", ephemeral=True)
    register_secret("ephemeral-three-333", ephemeral=True)
    assert scrub("ephemeral-one-111") == "ephemeral-one-111"  # evicted
    assert scrub("ephemeral-three-333") == REDACTED


def _record(msg, args=None, exc_info=None) -> logging.LogRecord:
    return logging.LogRecord("t", logging.INFO, __file__, 1, msg, args, exc_info)


def test_filter_scrubs_message_and_tuple_args():
    register_secret("filter-secret-xyz")
    record = _record(
        "login %s with %r count=%d ratio=%.1f",
        ("filter-secret-xyz", {"password": "pw-123456", "user": "bob"}, 3, 0.5),
    )
    assert RedactingFilter().filter(record) is True
    message = record.getMessage()
    assert "filter-secret-xyz" not in message
    assert "pw-123456" not in message
    assert "'user': 'bob'" in message
    assert "count=3 ratio=0.5" in message


def test_filter_scrubs_dict_args_and_msg():
    record = _record("auth %(header)s", None)
    record.args = {"header": "Basic Y3VzdC1pZDpzZWNyZXQ="}
    RedactingFilter().filter(record)
    assert "Y3VzdC1pZDpzZWNyZXQ=" not in record.getMessage()

    record = _record(f"token={AGORA_TOKEN}")
    RedactingFilter().filter(record)
    assert AGORA_TOKEN not in record.getMessage()


def test_filter_scrubs_objects_whose_text_holds_a_secret():
    register_secret("object-secret-456")
    error = RuntimeError("failed with object-secret-456")
    record = _record("boom: %s", (error,))
    RedactingFilter().filter(record)
    assert "object-secret-456" not in record.getMessage()
    # logger.exception(error) style: the message itself is an object.
    record = _record(error)
    RedactingFilter().filter(record)
    assert "object-secret-456" not in record.getMessage()
    # Objects without secrets keep their text.
    record = _record(RuntimeError("nothing to hide"))
    RedactingFilter().filter(record)
    assert record.getMessage() == "nothing to hide"


def test_filter_scrubs_a_credential_split_between_format_and_argument():
    record = _record("header was Basic %s", ("YWJjOmRlZmdoaWprbG1u",))
    RedactingFilter().filter(record)
    assert record.getMessage() == f"header was Basic {REDACTED}"


def test_filter_never_breaks_logging():
    class Hostile:
        def __str__(self):
            raise RuntimeError("no str for you")

    record = _record(Hostile())
    assert RedactingFilter().filter(record) is True


def test_filter_scrubs_tracebacks():
    register_secret("traceback-secret-789")
    try:
        raise RuntimeError("traceback-secret-789")
    except RuntimeError:
        record = _record("failed", exc_info=sys.exc_info())
    RedactingFilter().filter(record)
    formatted = logging.Formatter().format(record)
    assert "traceback-secret-789" not in formatted
    assert "RuntimeError" in formatted


def test_filter_in_a_logging_config(caplog):
    import logging.config

    # The form Django's LOGGING uses: {"()": "telephony.agora.redaction.RedactingFilter"}.
    configured = logging.config.DictConfigurator({}).configure_filter(
        {"()": "telephony.agora.redaction.RedactingFilter"}
    )
    assert isinstance(configured, RedactingFilter)
    register_secret("configured-secret-000")
    caplog.handler.addFilter(configured)
    try:
        logger = logging.getLogger("tests.telephony.agora.redaction")
        logger.warning("value=%s", "configured-secret-000")
    finally:
        caplog.handler.removeFilter(configured)
    assert "configured-secret-000" not in caplog.text
    assert f"value={REDACTED}" in caplog.text
