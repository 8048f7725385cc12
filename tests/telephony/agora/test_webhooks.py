"""Agora's webhook protocol (telephony.agora.webhooks): event types, signatures, the envelope."""

import ast
import hashlib
import hmac
import json
from pathlib import Path

import pytest

import telephony.agora
from telephony.agora.webhooks import (
    CALL_STATE_EVENTS,
    PRODUCT_ID,
    EventType,
    NotANotification,
    Notification,
    history_messages,
    payload_of,
    sign,
    verify_signature,
)

SECRET = "webhook-secret"
BODY = b'{"noticeId":"n-1","eventType":202,"payload":{"state":"RINGING"}}'


def hex_hmac(digest, body: bytes = BODY, secret: str = SECRET) -> str:
    """An independent signature, to check ours against."""
    return hmac.new(secret.encode(), body, digest).hexdigest()


def test_event_types_are_agoras_codes_with_their_labels():
    assert {(int(t), t.label) for t in EventType} == {
        (101, "agent joined"),
        (102, "agent left"),
        (103, "agent history"),
        (104, "token expiring"),
        (110, "agent error"),
        (111, "agent metrics"),
        (112, "turns finished"),
        (201, "inbound call state"),
        (202, "outbound call state"),
    }
    assert set(CALL_STATE_EVENTS) == {201, 202}
    assert EventType.parse(202) is EventType.OUTBOUND_CALL_STATE
    assert EventType.parse(999) is None
    assert EventType.parse(None) is None
    assert EventType.label_of(110) == "agent error"
    assert EventType.label_of(999) == "type 999"
    assert EventType.label_of(None) == "type None"


def test_sign_gives_both_headers_over_the_raw_body():
    assert sign(BODY, SECRET) == {
        "Agora-Signature-V2": hex_hmac(hashlib.sha256),
        "Agora-Signature": hex_hmac(hashlib.sha1),
    }


def test_what_sign_makes_verify_accepts_and_a_changed_body_fails():
    headers = sign(BODY, SECRET)
    check = verify_signature(BODY, headers, SECRET)
    assert (check.valid, check.problem, check.version) == (True, None, "v2")

    changed = verify_signature(BODY + b" ", headers, SECRET)
    assert not changed.valid
    assert changed.problem == "the agora-signature-v2 signature does not match"


@pytest.mark.parametrize(
    ("headers", "valid", "version"),
    [
        ({"agora-signature-v2": hex_hmac(hashlib.sha256)}, True, "v2"),
        ({"AGORA-SIGNATURE-V2": hex_hmac(hashlib.sha256).upper()}, True, "v2"),
        ({"agora-signature": hex_hmac(hashlib.sha1)}, True, "v1"),
        ({"agora-signature": f" {hex_hmac(hashlib.sha1)} "}, True, "v1"),
        # A wrong V2 is never rescued by a right V1.
        ({"agora-signature-v2": "f" * 64, "agora-signature": hex_hmac(hashlib.sha1)}, False, "v2"),
        ({"agora-signature": hex_hmac(hashlib.sha1, secret="other")}, False, "v1"),
        ({"agora-signature": hex_hmac(hashlib.sha256)}, False, "v1"),  # V2's digest in V1
        ({}, False, ""),
    ],
)
def test_verify_signature(headers, valid, version):
    check = verify_signature(BODY, headers, SECRET)
    assert (check.valid, check.version) == (valid, version)
    assert (check.problem is None) == valid


def test_nothing_verifies_without_a_secret():
    # With an empty key anyone can compute the HMAC.
    check = verify_signature(BODY, sign(BODY, ""), "")
    assert not check.valid
    assert check.problem == "no secret to verify the signature with"


def test_a_notification_is_read_from_its_envelope():
    notification = Notification.from_envelope(
        {
            "noticeId": 12345,
            "productId": "17",
            "eventType": 201,
            "notifyMs": 1_700_000_000_123,
            "sid": "S1",
            "payload": {"agent_id": "A1", "state": "CALLING"},
        }
    )
    assert notification == Notification(
        notice_id="12345",
        event_type=201,
        sid="S1",
        payload={"agent_id": "A1", "state": "CALLING"},
        product_id=17,
        notify_ms=1_700_000_000_123,
    )
    assert notification.agent_id == "A1"


def test_a_sloppy_notification_is_still_read():
    notification = Notification.from_envelope(
        {"noticeId": "n", "eventType": "two", "productId": None, "payload": ["not", "a", "dict"]}
    )
    assert (notification.event_type, notification.product_id, notification.notify_ms) == (
        None,
        None,
        None,
    )
    assert (notification.payload, notification.sid, notification.agent_id) == ({}, "", "")


@pytest.mark.parametrize("envelope", [[], "text", None, {}, {"noticeId": ""}, {"eventType": 202}])
def test_without_an_object_and_a_notice_id_it_is_not_a_notification(envelope):
    with pytest.raises(NotANotification, match="noticeId is missing"):
        Notification.from_envelope(envelope)


def test_a_notification_encodes_as_agoras_envelope_and_reads_back():
    notification = Notification(
        notice_id="n-7", event_type=EventType.AGENT_LEFT, sid="S", payload={"agent_id": "A"}
    )
    body = notification.encode(notify_ms=42)
    assert json.loads(body) == {
        "noticeId": "n-7",
        "productId": PRODUCT_ID,
        "eventType": 102,
        "notifyMs": 42,
        "sid": "S",
        "payload": {"agent_id": "A"},
    }
    assert b" " not in body  # compact: the signatures cover these exact bytes
    assert Notification.from_envelope(json.loads(body)) == Notification(
        notice_id="n-7", event_type=102, sid="S", payload={"agent_id": "A"}, notify_ms=42
    )


def test_history_messages_are_read_as_strings_skipping_what_is_not_a_message():
    payload = {
        "contents": [
            {"role": "assistant", "content": "Hi"},
            "noise",
            {"role": "user", "content": 42},
            {"content": "no role"},
        ]
    }
    assert history_messages(payload) == [
        {"role": "assistant", "content": "Hi"},
        {"role": "user", "content": "42"},
        {"role": "", "content": "no role"},
    ]
    assert history_messages({}) == history_messages({"contents": None}) == []


def test_payload_of_a_stored_envelope():
    assert payload_of({"payload": {"a": 1}}) == {"a": 1}
    assert payload_of({"payload": "x"}) == {}
    assert payload_of({}) == {}
    assert payload_of(None) == {}


def test_the_agora_package_imports_no_django():
    """telephony.agora is a plain HTTP client and protocol package: configuration comes in."""
    package = Path(telephony.agora.__file__).parent
    for path in sorted(package.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert not any(name.split(".")[0] == "django" for name in names), path.name
