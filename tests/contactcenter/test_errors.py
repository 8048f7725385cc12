"""Error reporting: off without SENTRY_DSN; with it, events leave scrubbed of secrets."""

import json
import logging

import pytest
import sentry_sdk
from sentry_sdk.transport import Transport

from contactcenter.errors import init_error_reporting
from telephony.agora.redaction import register_secret

SECRET = "sentry-test-secret-value-0123456789"


class Captured(Transport):
    """Events kept here instead of sent."""

    envelopes: list = []

    def capture_envelope(self, envelope) -> None:
        Captured.envelopes.append(envelope)


@pytest.fixture
def reporting():
    Captured.envelopes = []
    yield
    sentry_sdk.init()  # no DSN: off again for the rest of the suite


def sent_text() -> str:
    return "\n".join(
        item.get_bytes().decode() for envelope in Captured.envelopes for item in envelope.items
    )


def test_nothing_is_set_up_without_a_dsn(reporting):
    assert init_error_reporting("") is False
    assert not sentry_sdk.get_client().is_active()


def test_errors_and_error_lines_are_sent_without_their_secrets(reporting):
    register_secret(SECRET)
    assert init_error_reporting("https://public@sentry.invalid/1", transport=Captured)

    try:
        raise RuntimeError(f"Agora refused the call with {SECRET}")
    except RuntimeError:
        sentry_sdk.capture_exception()
    logging.getLogger("tests.errors").error(
        "placing failed: %s", SECRET, extra={"customer_secret": SECRET[::-1]}
    )
    sentry_sdk.flush()

    text = sent_text()
    assert "RuntimeError" in text and "placing failed" in text  # both events left
    # (the events' source lines show the test's own code: the values are built at run time)
    assert SECRET not in text and SECRET[::-1] not in text
    events = [
        json.loads(item.get_bytes())
        for envelope in Captured.envelopes
        for item in envelope.items
        if item.type == "event"
    ]
    assert len(events) == 2
    assert all("user" not in event and "cookies" not in event.get("request", {})
               for event in events)  # fmt: skip
