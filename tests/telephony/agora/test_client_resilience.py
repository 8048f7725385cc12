"""Typed errors, retries with backoff, Retry-After, regional failover and pagination.

Retry tests use a single overridden host so failover doesn't change the URL between attempts;
failover has its own tests below.
"""

import httpx
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
    PhoneNumberImport,
    PlaceCallRequest,
    RateLimited,
    ServerError,
    Unauthorized,
    Unprocessable,
)

from . import APP_ID, US_WEST

LOCAL = "http://agora.test/api/conversational-ai-agent"
CALL_URL = f"{LOCAL}/v2/projects/{APP_ID}/calls/A1"
PLACE_URL = f"{LOCAL}/v2/projects/{APP_ID}/call"
NUMBERS_URL = f"{LOCAL}/v2/phone-numbers"
CALL_JSON = {"agent_id": "A1", "state": "answered"}


@pytest.fixture
def local(make_client):
    """A client with one host, three retries, and jitter pinned to its maximum."""
    return make_client(base_url="http://agora.test")


def place_request() -> PlaceCallRequest:
    return PlaceCallRequest(
        name="attempt-1",
        to_number="+19876543210",
        from_number="+11234567890",
        sip_rtc_uid="100",
        sip_rtc_token="sip-token-xyz123",
        channel="ch-1",
        agent_token="agent-token-xyz123",
        agent_rtc_uid="111",
    )


def number_import() -> PhoneNumberImport:
    return PhoneNumberImport(provider="byo", phone_number="+15550001111", label="Main")


# -- typed errors -----------------------------------------------------------------------------

AGENT_SHAPE = {"detail": "something happened", "reason": "SomeReason"}
TELEPHONY_SHAPE = {"error_type": "some_reason", "description": "something happened"}


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequest),
        (401, Unauthorized),
        (403, Forbidden),
        (404, NotFound),
        (409, Conflict),
        (422, Unprocessable),
        (429, RateLimited),
        (500, ServerError),
        (502, ServerError),
        (503, ServerError),
        (504, ServerError),
    ],
)
@pytest.mark.parametrize("shape", [AGENT_SHAPE, TELEPHONY_SHAPE, "not json"])
def test_each_error_status_is_typed(make_client, respx_mock, status, cls, shape):
    client = make_client(base_url="http://agora.test", max_retries=0)
    if isinstance(shape, dict):
        respx_mock.get(CALL_URL).respond(status, json=shape)
    else:
        respx_mock.get(CALL_URL).respond(status, text=shape)
    with pytest.raises(AgoraAPIError) as excinfo:
        client.get_call("A1")
    error = excinfo.value
    assert type(error) is cls
    assert (error.status_code, error.method, error.path) == (
        status,
        "GET",
        f"/v2/projects/{APP_ID}/calls/A1",
    )
    assert error.operation == "get_call"
    if isinstance(shape, dict):
        reason = shape.get("reason") or shape.get("error_type")
        assert (error.reason, error.detail) == (reason, "something happened")
        assert str(error) == (
            f"GET /v2/projects/{APP_ID}/calls/A1 -> {status} {reason}: something happened"
        )
    else:
        assert (error.reason, error.detail) == (None, "not json")


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422, 500])
def test_no_retry_on_client_errors_and_500(local, respx_mock, sleeps, status):
    route = respx_mock.get(CALL_URL).respond(status, json={"reason": "X"})
    with pytest.raises(AgoraAPIError):
        local.get_call("A1")
    assert route.call_count == 1
    assert sleeps == []


@pytest.mark.parametrize("status", [502, 503, 504])
def test_gateway_errors_are_retried_then_succeed(local, respx_mock, sleeps, status):
    route = respx_mock.get(CALL_URL).mock(
        side_effect=[
            httpx.Response(status),
            httpx.Response(status),
            httpx.Response(200, json=CALL_JSON),
        ]
    )
    assert local.get_call("A1").agent_id == "A1"
    assert route.call_count == 3
    assert sleeps == [0.5, 1.0]


def test_retries_exhausted_raise_the_typed_error(local, respx_mock, sleeps):
    route = respx_mock.get(CALL_URL).respond(503, json={"reason": "ServiceUnavailable"})
    with pytest.raises(ServerError) as excinfo:
        local.get_call("A1")
    assert route.call_count == 4  # one try + max_retries (3)
    assert sleeps == [0.5, 1.0, 2.0]
    assert excinfo.value.reason == "ServiceUnavailable"
    assert excinfo.value.retryable


def test_backoff_grows_exponentially_up_to_the_cap(make_client, respx_mock, sleeps):
    client = make_client(base_url="http://agora.test", max_retries=6)
    respx_mock.get(CALL_URL).respond(502)
    with pytest.raises(ServerError):
        client.get_call("A1")
    assert sleeps == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]


def test_backoff_is_full_jitter(make_client, respx_mock, sleeps):
    draws = iter([0.0, 0.5, 0.25])
    client = make_client(base_url="http://agora.test", random=lambda: next(draws))
    respx_mock.get(CALL_URL).respond(504)
    with pytest.raises(ServerError):
        client.get_call("A1")
    assert sleeps == [0.0, 0.5, 0.5]  # random() * 0.5, random() * 1.0, random() * 2.0
    assert all(0 <= delay <= 0.5 * 2**i for i, delay in enumerate(sleeps))


def test_zero_retries_means_one_attempt(make_client, respx_mock, sleeps):
    client = make_client(base_url="http://agora.test", max_retries=0)
    route = respx_mock.get(CALL_URL).respond(503)
    with pytest.raises(ServerError):
        client.get_call("A1")
    assert (route.call_count, sleeps) == (1, [])


# -- Retry-After ------------------------------------------------------------------------------


def test_retry_after_is_slept_exactly(local, respx_mock, sleeps):
    route = respx_mock.get(CALL_URL).mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "2"}, json={"reason": "TooManyRequests"}),
            httpx.Response(200, json=CALL_JSON),
        ]
    )
    local.get_call("A1")
    assert route.call_count == 2
    assert sleeps == [2.0]


def test_retry_after_on_503_is_honoured(local, respx_mock, sleeps):
    respx_mock.get(CALL_URL).mock(
        side_effect=[
            httpx.Response(503, headers={"Retry-After": "3"}),
            httpx.Response(200, json={}),
        ]
    )
    local.get_call("A1")
    assert sleeps == [3.0]


def test_429_without_retry_after_uses_backoff(local, respx_mock, sleeps):
    respx_mock.get(CALL_URL).mock(side_effect=[httpx.Response(429), httpx.Response(200, json={})])
    local.get_call("A1")
    assert sleeps == [0.5]


def test_long_retry_after_is_handed_back_at_once(local, respx_mock, sleeps):
    route = respx_mock.get(CALL_URL).respond(429, headers={"Retry-After": "31"})
    with pytest.raises(RateLimited) as excinfo:
        local.get_call("A1")
    assert route.call_count == 1
    assert sleeps == []
    assert excinfo.value.retry_after == 31.0
    assert excinfo.value.retryable


def test_retry_after_on_the_last_attempt_is_reported(local, respx_mock, sleeps):
    respx_mock.get(CALL_URL).respond(429, headers={"Retry-After": "1"})
    with pytest.raises(RateLimited) as excinfo:
        local.get_call("A1")
    assert sleeps == [1.0, 1.0, 1.0]
    assert excinfo.value.retry_after == 1.0


def test_concurrency_limit_is_not_retried_inline(local, respx_mock, sleeps):
    route = respx_mock.post(PLACE_URL).respond(
        429, json={"reason": "ConcurrencyLimitExceeded", "detail": "20 PCU in use"}
    )
    with pytest.raises(ConcurrencyLimitExceeded) as excinfo:
        local.place_call(place_request())
    assert route.call_count == 1
    assert sleeps == []
    assert excinfo.value.retryable


# -- what may be repeated ---------------------------------------------------------------------


def _non_repeatable_calls(client):
    return {
        "import_phone_number": (
            "post",
            NUMBERS_URL,
            lambda: client.import_phone_number(number_import()),
        ),
        "update_phone_number": (
            "patch",
            f"{NUMBERS_URL}/%2B15550001111",
            lambda: client.update_phone_number("+15550001111", inbound_pipeline_id="p"),
        ),
        "speak": (
            "post",
            f"{LOCAL}/v2/projects/{APP_ID}/agents/AG1/speak",
            lambda: client.speak("AG1", text="hello"),
        ),
        "interrupt_agent": (
            "post",
            f"{LOCAL}/v2/projects/{APP_ID}/agents/AG1/interrupt",
            lambda: client.interrupt_agent("AG1"),
        ),
        "leave_agent": (
            "post",
            f"{LOCAL}/v2/projects/{APP_ID}/agents/AG1/leave",
            lambda: client.leave_agent("AG1"),
        ),
    }


OPERATIONS = [
    "import_phone_number",
    "update_phone_number",
    "speak",
    "interrupt_agent",
    "leave_agent",
]


@pytest.mark.parametrize("operation", OPERATIONS)
def test_non_repeatable_requests_are_not_retried_on_503(local, respx_mock, sleeps, operation):
    method, url, call = _non_repeatable_calls(local)[operation]
    route = respx_mock.route(method=method.upper(), url=url).respond(503)
    with pytest.raises(ServerError):
        call()
    assert route.call_count == 1
    assert sleeps == []


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize(
    "exc", [httpx.ReadTimeout, httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteTimeout]
)
def test_non_repeatable_requests_are_not_retried_after_sending(
    local, respx_mock, sleeps, operation, exc
):
    method, url, call = _non_repeatable_calls(local)[operation]
    route = respx_mock.route(method=method.upper(), url=url).mock(side_effect=exc("boom"))
    with pytest.raises(AgoraTransportError) as excinfo:
        call()
    assert route.call_count == 1
    assert sleeps == []
    assert excinfo.value.response_lost is True
    assert "may have reached Agora" in str(excinfo.value)


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("exc", [httpx.ConnectError, httpx.ConnectTimeout])
def test_non_repeatable_requests_are_retried_when_nothing_was_sent(
    local, respx_mock, sleeps, operation, exc
):
    method, url, call = _non_repeatable_calls(local)[operation]
    ok = {"agent_id": "AG1", "phone_number": "+15550001111"}
    route = respx_mock.route(method=method.upper(), url=url).mock(
        side_effect=[exc("refused"), httpx.Response(200, json=ok)]
    )
    call()
    assert route.call_count == 2
    assert sleeps == [0.5]


def test_connect_errors_exhausted(local, respx_mock, sleeps):
    route = respx_mock.post(NUMBERS_URL).mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(AgoraTransportError) as excinfo:
        local.import_phone_number(number_import())
    assert route.call_count == 4
    assert sleeps == [0.5, 1.0, 2.0]
    assert excinfo.value.response_lost is False
    assert excinfo.value.retryable
    assert "nothing was sent" in str(excinfo.value)


def test_place_call_409_is_a_name_conflict_and_not_retried(local, respx_mock, sleeps):
    route = respx_mock.post(PLACE_URL).respond(
        409, json={"detail": "name already used", "reason": "TaskConflict"}
    )
    with pytest.raises(CallNameConflict) as excinfo:
        local.place_call(place_request())
    assert route.call_count == 1
    assert sleeps == []
    assert str(excinfo.value) == (
        f"POST /v2/projects/{APP_ID}/call -> 409 TaskConflict: name already used"
    )


def test_place_call_with_no_retries_sends_one_request(local, respx_mock, sleeps):
    # The placement service's way: each request after its own look at the dialing rules.
    route = respx_mock.post(PLACE_URL).mock(
        side_effect=[httpx.Response(503, json={"reason": "X"}), httpx.ReadTimeout("slow")]
    )
    with pytest.raises(ServerError):
        local.place_call(place_request(), retries=0)
    with pytest.raises(AgoraTransportError) as lost:
        local.place_call(place_request(), retries=0)
    assert lost.value.response_lost is True
    assert route.call_count == 2
    assert sleeps == []


def test_place_call_read_timeout_is_retried(local, respx_mock, sleeps):
    route = respx_mock.post(PLACE_URL).mock(
        side_effect=[httpx.ReadTimeout("slow"), httpx.Response(200, json={"agent_id": "AG9"})]
    )
    assert local.place_call(place_request()).agent_id == "AG9"
    assert route.call_count == 2
    assert sleeps == [0.5]
    # The retry is the same request: same unique name, so Agora can refuse a duplicate.
    first, second = (call.request for call in route.calls)
    assert first.content == second.content


def test_place_call_read_timeouts_exhausted(local, respx_mock, sleeps):
    route = respx_mock.post(PLACE_URL).mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(AgoraTransportError) as excinfo:
        local.place_call(place_request())
    assert route.call_count == 4
    assert sleeps == [0.5, 1.0, 2.0]
    assert excinfo.value.response_lost is True
    assert excinfo.value.operation == "place_call"
    assert isinstance(excinfo.value.__cause__, httpx.ReadTimeout)


def test_response_lost_if_any_attempt_may_have_arrived(local, respx_mock):
    respx_mock.post(PLACE_URL).mock(
        side_effect=[
            httpx.ReadTimeout("slow"),
            httpx.ConnectError("refused"),
            httpx.ConnectError("refused"),
            httpx.ConnectError("refused"),
        ]
    )
    with pytest.raises(AgoraTransportError) as excinfo:
        local.place_call(place_request())
    assert excinfo.value.response_lost is True


@pytest.mark.parametrize(
    ("method", "url", "call"),
    [
        ("GET", CALL_URL, lambda c: c.get_call("A1")),
        ("POST", f"{CALL_URL}/hangup", lambda c: c.hangup_call("A1")),
        ("DELETE", f"{NUMBERS_URL}/%2B1555", lambda c: c.delete_phone_number("+1555")),
        ("GET", NUMBERS_URL, lambda c: c.list_phone_numbers()),
    ],
)
def test_safe_requests_are_retried_on_read_timeout(local, respx_mock, method, url, call):
    ok = httpx.Response(200, json=[] if url == NUMBERS_URL else {})
    route = respx_mock.route(method=method, url=url).mock(side_effect=[httpx.ReadTimeout("x"), ok])
    call(local)
    assert route.call_count == 2


# -- regional failover ------------------------------------------------------------------------

EU_WEST = "https://api-eu-west-1.agora.io/api/conversational-ai-agent"
EU_CENTRAL = "https://api-eu-central-1.agora.io/api/conversational-ai-agent"


def test_connect_error_fails_over_to_the_next_region_and_stays(make_client, respx_mock, sleeps):
    client = make_client(area="EU")
    path = f"/v2/projects/{APP_ID}/calls/A1"
    west = respx_mock.get(f"{EU_WEST}{path}").mock(side_effect=httpx.ConnectError("down"))
    central = respx_mock.get(f"{EU_CENTRAL}{path}").respond(200, json=CALL_JSON)
    client.get_call("A1")
    assert (west.call_count, central.call_count) == (1, 1)
    assert sleeps == [0.5]
    assert client.base_url == EU_CENTRAL
    client.get_call("A1")  # later requests start at the host that worked
    assert (west.call_count, central.call_count) == (1, 2)


def test_503_fails_over_too(make_client, respx_mock):
    client = make_client(area="EU")
    path = f"/v2/projects/{APP_ID}/calls/A1"
    west = respx_mock.get(f"{EU_WEST}{path}").respond(503)
    central = respx_mock.get(f"{EU_CENTRAL}{path}").respond(200, json=CALL_JSON)
    client.get_call("A1")
    assert (west.call_count, central.call_count) == (1, 1)


def test_500_fails_over_for_the_next_request_without_retrying(make_client, respx_mock, sleeps):
    client = make_client(area="EU")
    path = f"/v2/projects/{APP_ID}/calls/A1"
    west = respx_mock.get(f"{EU_WEST}{path}").respond(500)
    central = respx_mock.get(f"{EU_CENTRAL}{path}").respond(200, json=CALL_JSON)
    with pytest.raises(ServerError):
        client.get_call("A1")
    assert sleeps == []
    client.get_call("A1")
    assert (west.call_count, central.call_count) == (1, 1)


def test_4xx_does_not_fail_over(make_client, respx_mock):
    client = make_client(area="EU")
    respx_mock.get(f"{EU_WEST}/v2/projects/{APP_ID}/calls/A1").respond(404)
    with pytest.raises(NotFound):
        client.get_call("A1")
    assert client.base_url == EU_WEST


def test_failover_walks_all_hosts_and_wraps_around(make_client, respx_mock, sleeps):
    client = make_client(max_retries=4)
    path = f"/v2/projects/{APP_ID}/calls/A1"
    hosts = list(client.hosts)
    assert hosts[0] == US_WEST
    routes = [respx_mock.get(f"{host}{path}").respond(502) for host in hosts]
    with pytest.raises(ServerError):
        client.get_call("A1")
    assert [route.call_count for route in routes] == [2, 1, 1, 1]
    ordered = [call.request.url.host for call in respx_mock.calls]
    assert ordered == [
        "api-us-west-1.agora.io",
        "api-us-east-1.agora.io",
        "api-us-west-1.sd-rtn.com",
        "api-us-east-1.sd-rtn.com",
        "api-us-west-1.agora.io",
    ]


def test_cn_uses_sd_rtn_first_with_the_cn_path(make_client, respx_mock):
    client = make_client(area="CN")
    path = f"/cn/api/conversational-ai-agent/v2/projects/{APP_ID}/calls/A1"
    first = respx_mock.get(f"https://api-cn-east-1.sd-rtn.com{path}").mock(
        side_effect=httpx.ConnectTimeout("slow")
    )
    second = respx_mock.get(f"https://api-cn-north-1.sd-rtn.com{path}").respond(200, json={})
    client.get_call("A1")
    assert (first.call_count, second.call_count) == (1, 1)


def test_override_url_is_used_alone(make_client, respx_mock, sleeps):
    client = make_client(base_url="http://127.0.0.1:8900", area="EU")
    route = respx_mock.get(
        f"http://127.0.0.1:8900/api/conversational-ai-agent/v2/projects/{APP_ID}/calls/A1"
    ).mock(side_effect=[httpx.ConnectError("down"), httpx.Response(200, json={})])
    client.get_call("A1")
    assert route.call_count == 2


# -- pagination -------------------------------------------------------------------------------


def _calls_page(ids: list[str], cursor: str | None) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "data": {"count": len(ids), "list": [{"agent_id": i, "state": "hangup"} for i in ids]},
            "meta": {"cursor": cursor, "total": 5},
            "status": "ok",
        },
    )


def test_iter_calls_follows_the_cursor_across_three_pages(local, respx_mock):
    route = respx_mock.get(PLACE_URL).mock(
        side_effect=[
            _calls_page(["A1", "A2"], "A2"),
            _calls_page(["A3", "A4"], "A4"),
            _calls_page(["A5"], ""),
        ]
    )
    calls = list(local.iter_calls(type="outbound", page_size=2))
    assert [c.agent_id for c in calls] == ["A1", "A2", "A3", "A4", "A5"]
    assert [str(call.request.url) for call in route.calls] == [
        f"{PLACE_URL}?type=outbound&limit=2",
        f"{PLACE_URL}?type=outbound&limit=2&cursor=A2",
        f"{PLACE_URL}?type=outbound&limit=2&cursor=A4",
    ]


def test_iter_calls_stops_on_null_cursor(local, respx_mock):
    route = respx_mock.get(PLACE_URL).mock(side_effect=[_calls_page(["A1"], None)])
    assert [c.agent_id for c in local.iter_calls()] == ["A1"]
    assert str(route.calls.last.request.url) == f"{PLACE_URL}?limit=100"


def test_iter_calls_detects_a_cursor_loop(local, respx_mock):
    route = respx_mock.get(PLACE_URL).mock(
        side_effect=[
            _calls_page(["A1"], "A1"),
            _calls_page(["A2"], "A2"),
            _calls_page(["A1"], "A1"),
        ]
    )
    seen = []
    with pytest.raises(AgoraError, match="cursor 'A1' came back twice"):
        for call in local.iter_calls(page_size=1):
            seen.append(call.agent_id)
    assert route.call_count == 3
    assert seen == ["A1", "A2", "A1"]


def test_iter_calls_propagates_errors(local, respx_mock):
    respx_mock.get(PLACE_URL).mock(side_effect=[_calls_page(["A1"], "A1"), httpx.Response(401)])
    with pytest.raises(Unauthorized):
        list(local.iter_calls())
