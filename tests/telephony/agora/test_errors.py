"""The error hierarchy and error_from_response."""

import pickle
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from telephony.agora import (
    AgoraAPIError,
    AgoraError,
    AgoraTransportError,
    BadRequest,
    CallNameConflict,
    ConcurrencyLimitExceeded,
    Conflict,
    Forbidden,
    NotFound,
    RateLimited,
    ServerError,
    Unauthorized,
    Unprocessable,
    error_from_response,
)
from telephony.agora.errors import parse_retry_after, retry_delay
from telephony.agora.redaction import REDACTED

PATH = "/v2/projects/abc/call"


@pytest.mark.parametrize(
    ("status", "cls", "retryable"),
    [
        (400, BadRequest, False),
        (401, Unauthorized, False),
        (403, Forbidden, False),
        (404, NotFound, False),
        (409, Conflict, False),
        (422, Unprocessable, False),
        (429, RateLimited, True),
        (500, ServerError, False),
        (502, ServerError, True),
        (503, ServerError, True),
        (504, ServerError, True),
        (418, AgoraAPIError, False),
    ],
)
def test_class_by_status(status, cls, retryable):
    error = error_from_response(status_code=status, body=None, method="GET", path=PATH)
    assert type(error) is cls
    assert isinstance(error, AgoraAPIError)
    assert isinstance(error, AgoraError)
    assert error.status_code == status
    assert error.retryable is retryable


def test_agent_body_shape():
    error = error_from_response(
        status_code=409,
        body=b'{"detail": "name already used", "reason": "TaskConflict"}',
        method="POST",
        path=PATH,
    )
    assert type(error) is Conflict
    assert (error.reason, error.detail, error.method, error.path) == (
        "TaskConflict",
        "name already used",
        "POST",
        PATH,
    )
    assert str(error) == "POST /v2/projects/abc/call -> 409 TaskConflict: name already used"


def test_telephony_body_shape():
    error = error_from_response(
        status_code=400,
        body={"error_type": "invalid_phone_format", "description": "Invalid phone number format"},
        method="POST",
        path=PATH,
    )
    assert (error.reason, error.detail) == ("invalid_phone_format", "Invalid phone number format")
    assert str(error) == (
        "POST /v2/projects/abc/call -> 400 invalid_phone_format: Invalid phone number format"
    )


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b"<html><body>Bad   Gateway</body></html>", "<html><body>Bad Gateway</body></html>"),
        ("upstream connect error", "upstream connect error"),
        (b"", None),
        (None, None),
        (b"[1, 2]", "[1, 2]"),
        (b'{"detail": [{"loc": ["body", "name"], "msg": "required"}]}', None),
    ],
)
def test_odd_bodies_are_handled(body, detail):
    error = error_from_response(status_code=502, body=body, method="GET", path=PATH)
    assert error.reason is None
    if detail is not None:
        assert error.detail == detail
    str(error)  # always renders


def test_long_bodies_are_truncated():
    error = error_from_response(status_code=500, body="x" * 10_000, method="GET", path=PATH)
    assert len(str(error)) < 400


def test_call_name_conflict_only_for_place_call():
    kwargs = {"status_code": 409, "body": {"reason": "TaskConflict"}, "method": "POST"}
    assert type(error_from_response(path=PATH, operation="place_call", **kwargs)) is (
        CallNameConflict
    )
    assert type(error_from_response(path=PATH, operation="import_phone_number", **kwargs)) is (
        Conflict
    )


@pytest.mark.parametrize("status", [403, 429, 503])
@pytest.mark.parametrize("reason", ["ConcurrencyLimitExceeded", "ResourceQuotaLimitExceeded"])
def test_concurrency_limit_whatever_the_status(status, reason):
    error = error_from_response(
        status_code=status, body={"reason": reason, "detail": "20 PCU"}, method="POST", path=PATH
    )
    assert type(error) is ConcurrencyLimitExceeded
    assert error.retryable


def test_retry_after_seconds_and_http_date():
    error = error_from_response(
        status_code=429, body=None, method="GET", path=PATH, headers={"retry-after": "2"}
    )
    assert error.retry_after == 2.0
    assert str(error) == "GET /v2/projects/abc/call -> 429 (retry after 2s)"
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    error = error_from_response(
        status_code=503, body=None, method="GET", path=PATH, headers={"Retry-After": later}
    )
    assert 100 < error.retry_after <= 120


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", 0.0),
        ("1.5", 1.5),
        ("-3", 0.0),
        ("soon", None),
        ("", None),
        (None, None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # in the past
    ],
)
def test_parse_retry_after(value, expected):
    assert parse_retry_after(value) == expected


def test_parse_retry_after_http_date_relative_to_now():
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0


def test_messages_are_scrubbed_and_path_has_no_query():
    error = error_from_response(
        status_code=401,
        body={"detail": "bad header Basic Y3VzdC1pZDpzZWNyZXQtdmFsdWU=", "reason": "Unauthorized"},
        method="GET",
        path="/v2/projects/abc/call?cursor=x",
    )
    assert "Y3VzdC1pZDpzZWNyZXQtdmFsdWU=" not in str(error)
    assert "Y3VzdC1pZDpzZWNyZXQtdmFsdWU=" not in repr(error)
    assert REDACTED in error.detail
    assert error.path == "/v2/projects/abc/call"


def test_transport_error():
    error = AgoraTransportError("GET /x -> ReadTimeout", response_lost=True, path="/x")
    assert error.retryable
    assert error.response_lost
    assert error.status_code is None
    assert str(error) == "GET /x -> ReadTimeout"


def test_errors_survive_pickling_with_their_attributes():
    error = error_from_response(
        status_code=429,
        body={"reason": "TooMany", "detail": "slow"},
        method="GET",
        path=PATH,
        headers={"Retry-After": "45"},
    )
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 (our own bytes)
    assert type(copy) is RateLimited
    assert (copy.status_code, copy.reason, copy.retry_after, str(copy)) == (
        429,
        "TooMany",
        45.0,
        str(error),
    )
    lost = pickle.loads(pickle.dumps(AgoraTransportError("x", response_lost=False)))  # noqa: S301
    assert lost.response_lost is False


@pytest.mark.parametrize(
    ("retry_after", "retries", "expected"),
    [
        (None, 0, 2.0),  # base * 2**retries
        (None, 3, 16.0),
        (None, 10, 30.0),  # at most the cap
        (None, 10_000, 30.0),  # no overflow however often it was retried
        (7.0, 5, 7.0),  # Agora's Retry-After wins, even above the cap
        (45.0, 0, 45.0),
        (86_400.0, 0, 600.0),  # but never longer than the ceiling
        (float("inf"), 0, 600.0),
        (0.0, 2, 8.0),  # "retry now" is not a delay: the backoff applies
    ],
)
def test_retry_delay_honours_retry_after_else_backs_off(retry_after, retries, expected):
    error = RateLimited(status_code=429, retry_after=retry_after)
    assert retry_delay(error, retries=retries, base=2, cap=30) == expected


def test_retry_delay_of_a_transport_error_backs_off():
    error = AgoraTransportError("GET /x -> ConnectError", response_lost=False)
    assert retry_delay(error, retries=2, base=5, cap=600) == 20.0
