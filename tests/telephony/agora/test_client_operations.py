"""Every client operation: exact method, URL, Authorization header, JSON body and parsed result."""

import json

import httpx
import pytest

from telephony.agora import (
    UNSET,
    AgentHistory,
    AgentStatus,
    AgoraClient,
    AgoraConfig,
    AgoraConfigurationError,
    AgoraError,
    CallInfo,
    ChatMessage,
    PhoneNumberImport,
    PhoneNumberInfo,
    PlaceCallRequest,
    PlacedCall,
    SpeakResult,
    UnexpectedResponse,
)

from . import APP_ID, BASIC_HEADER, NUMBERS, PROJECT

CALL = {
    "to_number": "+19876543210",
    "from_number": "+11234567890",
    "pipeline_id": "p-28",
    "type": "outbound",
    "agent_id": "A42AK62PE",
    "channel": "ch-42",
    "reason": "hangup",
    "create_ts": 1758498988,
    "state": "hangup",
    "stop_ts": 1758498995,
}
NUMBER = {
    "provider": "byo",
    "phone_number": "+19876543210",
    "label": "Sales",
    "inbound": True,
    "outbound": True,
    "associated_pipeline": {"pipeline_id": "p1", "pipeline_name": "Support Bot"},
    "inbound_config": {"allowed_addresses": ["112.126.15.64/27"]},
    "outbound_config": {"address": "sip.example.com", "transport": "tls"},
}
ENCODED = "%2B19876543210"


def only_request(route) -> httpx.Request:
    assert route.call_count == 1
    return route.calls.last.request


def body_of(request: httpx.Request):
    return json.loads(request.content) if request.content else None


def assert_sent(route, *, method, url, body=None, authorization=BASIC_HEADER):
    request = only_request(route)
    assert request.method == method
    assert str(request.url) == url
    assert request.headers["Authorization"] == authorization
    assert body_of(request) == body
    assert request.headers["User-Agent"] == "contactcenter/0.1"
    assert request.headers["Accept"] == "application/json"
    if body is not None:
        assert request.headers["Content-Type"] == "application/json"
    return request


def place_request(**overrides) -> PlaceCallRequest:
    values = {
        "name": "attempt-42-1",
        "to_number": "+19876543210",
        "from_number": "+11234567890",
        "sip_rtc_uid": "100",
        "sip_rtc_token": "sip-token-abcdef",
        "channel": "ch-42",
        "agent_token": "agent-token-abcdef",
        "agent_rtc_uid": "111",
        "pipeline_id": "p-28",
        "properties": {"labels": {"call_id": "42"}},
        **overrides,
    }
    return PlaceCallRequest(**values)


# -- telephony --------------------------------------------------------------------------------


def test_place_call(client, respx_mock):
    route = respx_mock.post(f"{PROJECT}/call").respond(200, json={"agent_id": "A42AK62PE"})
    result = client.place_call(place_request())
    assert result == PlacedCall(agent_id="A42AK62PE")
    assert_sent(
        route,
        method="POST",
        url=f"{PROJECT}/call",
        body={
            "name": "attempt-42-1",
            "sip": {
                "to_number": "+19876543210",
                "from_number": "+11234567890",
                "rtc_uid": "100",
                "rtc_token": "sip-token-abcdef",
            },
            "pipeline_id": "p-28",
            "properties": {
                "labels": {"call_id": "42"},
                "channel": "ch-42",
                "token": "agent-token-abcdef",
                "agent_rtc_uid": "111",
                "remote_rtc_uids": ["100"],
            },
        },
    )


def test_place_call_without_agent_id_is_unexpected(client, respx_mock):
    respx_mock.post(f"{PROJECT}/call").respond(200, json={"status": "ok"})
    with pytest.raises(UnexpectedResponse, match="agent_id"):
        client.place_call(place_request())


def test_get_call(client, respx_mock):
    route = respx_mock.get(f"{PROJECT}/calls/A42AK62PE").respond(200, json=CALL)
    info = client.get_call("A42AK62PE")
    assert_sent(route, method="GET", url=f"{PROJECT}/calls/A42AK62PE")
    assert info == CallInfo(
        agent_id="A42AK62PE",
        channel="ch-42",
        to_number="+19876543210",
        from_number="+11234567890",
        pipeline_id="p-28",
        type="outbound",
        state="hangup",
        reason="hangup",
        create_ts=1758498988,
        stop_ts=1758498995,
    )
    assert info.is_ended


def test_list_calls_sends_only_given_params(client, respx_mock):
    page_body = {
        "data": {"count": 1, "list": [{**CALL, "state": "answered", "stop_ts": None}]},
        "meta": {"cursor": "A42AK62PE", "total": 12},
        "status": "ok",
    }
    route = respx_mock.get(f"{PROJECT}/call").respond(200, json=page_body)
    page = client.list_calls(
        number="+19876543210", from_time=1700000000, to_time=1700086400.7, type="outbound", limit=5
    )
    assert_sent(
        route,
        method="GET",
        url=(
            f"{PROJECT}/call?number=%2B19876543210&from_time=1700000000&to_time=1700086400"
            "&type=outbound&limit=5"
        ),
    )
    assert (page.cursor, page.total, page.count) == ("A42AK62PE", 12, 1)
    assert page.calls[0].state == "answered"
    assert not page.calls[0].is_ended


def test_list_calls_without_filters_and_with_cursor(client, respx_mock):
    route = respx_mock.get(f"{PROJECT}/call").respond(
        200, json={"data": {"count": 0, "list": []}, "meta": {"cursor": None}, "status": "ok"}
    )
    page = client.list_calls(cursor="PREV")
    assert_sent(route, method="GET", url=f"{PROJECT}/call?cursor=PREV")
    assert (page.calls, page.cursor) == ([], None)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"type": "both"}, "type"),
        ({"limit": 0}, "limit"),
        ({"limit": -5}, "limit"),
        ({"from_time": "yesterday"}, "from_time"),
    ],
)
def test_list_calls_validation(client, kwargs, field):
    with pytest.raises(ValueError, match=field):
        client.list_calls(**kwargs)


def test_list_calls_accepts_aware_datetimes(client, respx_mock):
    from datetime import UTC, datetime

    route = respx_mock.get(f"{PROJECT}/call").respond(200, json={"data": {"list": []}})
    client.list_calls(from_time=datetime(2024, 1, 1, tzinfo=UTC))
    assert str(only_request(route).url) == f"{PROJECT}/call?from_time=1704067200"
    with pytest.raises(ValueError, match="timezone"):
        client.list_calls(to_time=datetime(2024, 1, 1))


def test_hangup_call(client, respx_mock):
    route = respx_mock.post(f"{PROJECT}/calls/A42AK62PE/hangup").respond(200, json={})
    assert client.hangup_call("A42AK62PE") is None
    assert_sent(route, method="POST", url=f"{PROJECT}/calls/A42AK62PE/hangup", body={})


def test_path_segments_are_encoded(client, respx_mock):
    route = respx_mock.get(f"{PROJECT}/calls/a%2Fb%3Fc").respond(200, json=CALL)
    client.get_call("a/b?c")
    assert str(only_request(route).url) == f"{PROJECT}/calls/a%2Fb%3Fc"
    with pytest.raises(ValueError, match="agent_id"):
        client.get_call("")


# -- phone numbers ----------------------------------------------------------------------------


def test_list_phone_numbers(client, respx_mock):
    second = {"provider": "twilio", "phone_number": "+15550001111", "associated_pipeline": None}
    route = respx_mock.get(NUMBERS).respond(200, json=[NUMBER, second])
    numbers = client.list_phone_numbers()
    assert_sent(route, method="GET", url=NUMBERS)
    assert [n.phone_number for n in numbers] == ["+19876543210", "+15550001111"]
    assert numbers[0] == PhoneNumberInfo(
        provider="byo",
        phone_number="+19876543210",
        label="Sales",
        inbound=True,
        outbound=True,
        associated_pipeline_id="p1",
        associated_pipeline_name="Support Bot",
        inbound_config={"allowed_addresses": ["112.126.15.64/27"]},
        outbound_config={"address": "sip.example.com", "transport": "tls"},
    )
    assert numbers[1].associated_pipeline_id is None


def test_list_phone_numbers_rejects_an_object(client, respx_mock):
    respx_mock.get(NUMBERS).respond(200, json={"unexpected": True})
    with pytest.raises(UnexpectedResponse, match="JSON array"):
        client.list_phone_numbers()


@pytest.mark.parametrize("status", [200, 201])
def test_import_phone_number(client, respx_mock, status):
    route = respx_mock.post(NUMBERS).respond(
        status,
        json={
            "phone_number": "+19876543210",
            "label": "Sales",
            "provider": "byo",
            "inbound": True,
            "outbound": True,
            "associated_pipeline": None,
        },
    )
    number = PhoneNumberImport(
        provider="byo",
        phone_number="+19876543210",
        label="Sales",
        inbound_allowed_addresses=["112.126.15.64/27"],
        outbound_address="sip.example.com",
        outbound_transport="tls",
        outbound_prefix="6036",
    )
    info = client.import_phone_number(number)
    assert_sent(
        route,
        method="POST",
        url=NUMBERS,
        body={
            "provider": "byo",
            "phone_number": "+19876543210",
            "label": "Sales",
            "inbound": True,
            "outbound": True,
            "inbound_config": {"allowed_addresses": ["112.126.15.64/27"]},
            "outbound_config": {"address": "sip.example.com", "transport": "tls", "prefix": "6036"},
        },
    )
    assert (info.phone_number, info.label, info.associated_pipeline_id) == (
        "+19876543210",
        "Sales",
        None,
    )


def test_get_phone_number_encodes_the_plus(client, respx_mock):
    route = respx_mock.get(f"{NUMBERS}/{ENCODED}").respond(200, json=NUMBER)
    info = client.get_phone_number("+19876543210")
    assert_sent(route, method="GET", url=f"{NUMBERS}/{ENCODED}")
    assert info.associated_pipeline_id == "p1"


@pytest.mark.parametrize(
    ("kwargs", "body"),
    [
        ({"inbound_pipeline_id": "p-in"}, {"inbound_config": {"pipeline_id": "p-in"}}),
        ({"outbound_pipeline_id": "p-out"}, {"outbound_config": {"pipeline_id": "p-out"}}),
        (
            {"inbound_pipeline_id": None, "outbound_pipeline_id": "p-out"},
            {"inbound_config": None, "outbound_config": {"pipeline_id": "p-out"}},
        ),
        (
            {"inbound_pipeline_id": None, "outbound_pipeline_id": None},
            {"inbound_config": None, "outbound_config": None},
        ),
        ({"inbound_pipeline_id": "p-in", "outbound_pipeline_id": UNSET}, None),
    ],
)
def test_update_phone_number(client, respx_mock, kwargs, body):
    expected = body if body is not None else {"inbound_config": {"pipeline_id": "p-in"}}
    route = respx_mock.patch(f"{NUMBERS}/{ENCODED}").respond(200, json=NUMBER)
    info = client.update_phone_number("+19876543210", **kwargs)
    assert_sent(route, method="PATCH", url=f"{NUMBERS}/{ENCODED}", body=expected)
    assert info.phone_number == "+19876543210"


def test_update_phone_number_needs_something_to_update(client):
    with pytest.raises(ValueError, match="nothing to update"):
        client.update_phone_number("+19876543210")
    with pytest.raises(ValueError, match="inbound_config"):
        client.update_phone_number("+19876543210", inbound_pipeline_id="")


def test_delete_phone_number(client, respx_mock):
    route = respx_mock.delete(f"{NUMBERS}/{ENCODED}").respond(204)
    assert client.delete_phone_number("+19876543210") is None
    assert_sent(route, method="DELETE", url=f"{NUMBERS}/{ENCODED}")


# -- agents -----------------------------------------------------------------------------------

AGENTS = f"{PROJECT}/agents"


def test_get_agent_status(client, respx_mock):
    route = respx_mock.get(f"{AGENTS}/AG1").respond(
        200,
        json={
            "message": "agent exits with reason: xxxx",
            "start_ts": 1735035893,
            "stop_ts": 1735035900,
            "status": "FAILED",
            "agent_id": "AG1",
        },
    )
    status = client.get_agent_status("AG1")
    assert_sent(route, method="GET", url=f"{AGENTS}/AG1")
    assert status == AgentStatus(
        agent_id="AG1",
        status="FAILED",
        status_code=6,
        start_ts=1735035893,
        stop_ts=1735035900,
        message="agent exits with reason: xxxx",
    )


def test_get_agent_history(client, respx_mock):
    route = respx_mock.get(f"{AGENTS}/AG1/history").respond(
        200,
        json={
            "agent_id": "AG1",
            "start_ts": 123,
            "status": "RUNNING",
            "contents": [{"role": "user", "content": "hello."}],
        },
    )
    history = client.get_agent_history("AG1")
    assert_sent(route, method="GET", url=f"{AGENTS}/AG1/history")
    assert history == AgentHistory(
        agent_id="AG1",
        status="RUNNING",
        start_ts=123,
        contents=[ChatMessage(role="user", content="hello.")],
    )


def _turns_page(index: int, total: int, turn_ids: list[int]) -> dict:
    return {
        "agent_id": "AG1",
        "channel": "ch-42",
        "total_turn_count": 3,
        "pagination": {"page_index": index, "total_pages": total, "is_last_page": index == total},
        "turns": [
            {
                "turn_id": turn_id,
                "start": {"start_at": 1000 * turn_id, "type": "voice_input"},
                "end": {"end_at": 1000 * turn_id + 500, "type": "ok"},
                "metrics": {
                    "e2e_latency_ms": 800,
                    "segmented_latency_ms": [{"name": "asr_ttlw", "latency": 200}],
                },
            }
            for turn_id in turn_ids
        ],
    }


def test_get_agent_turns(client, respx_mock):
    route = respx_mock.get(f"{AGENTS}/AG1/turns").respond(200, json=_turns_page(2, 3, [2]))
    page = client.get_agent_turns("AG1", page_index=2, page_size=10)
    assert_sent(route, method="GET", url=f"{AGENTS}/AG1/turns?page_index=2&page_size=10")
    assert (page.page_index, page.total_pages, page.is_last_page) == (2, 3, False)
    assert (page.agent_id, page.channel, page.total_turn_count) == ("AG1", "ch-42", 3)
    turn = page.turns[0]
    assert (turn.turn_id, turn.start_type, turn.end_type) == (2, "voice_input", "ok")
    assert (turn.start_at_ms, turn.end_at_ms, turn.e2e_latency_ms) == (2000, 2500, 800.0)
    assert turn.segmented_latency_ms == {"asr_ttlw": 200.0}


def test_get_agent_turns_defaults(client, respx_mock):
    route = respx_mock.get(f"{AGENTS}/AG1/turns").respond(200, json=_turns_page(1, 1, []))
    client.get_agent_turns("AG1")
    assert str(only_request(route).url) == f"{AGENTS}/AG1/turns?page_index=1&page_size=50"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"page_size": 9}, "page_size"),
        ({"page_size": 201}, "page_size"),
        ({"page_index": 0}, "page_index"),
    ],
)
def test_get_agent_turns_validation(client, kwargs, field):
    with pytest.raises(ValueError, match=field):
        client.get_agent_turns("AG1", **kwargs)


def test_iter_agent_turns_follows_pages_until_the_last(client, respx_mock):
    route = respx_mock.get(f"{AGENTS}/AG1/turns").mock(
        side_effect=[
            httpx.Response(200, json=_turns_page(1, 3, [1])),
            httpx.Response(200, json=_turns_page(2, 3, [2])),
            httpx.Response(200, json=_turns_page(3, 3, [3])),
        ]
    )
    assert [t.turn_id for t in client.iter_agent_turns("AG1", page_size=10)] == [1, 2, 3]
    assert [str(call.request.url) for call in route.calls] == [
        f"{AGENTS}/AG1/turns?page_index={i}&page_size=10" for i in (1, 2, 3)
    ]


def test_leave_agent(client, respx_mock):
    route = respx_mock.post(f"{AGENTS}/AG1/leave").respond(200)
    assert client.leave_agent("AG1") is None
    assert_sent(route, method="POST", url=f"{AGENTS}/AG1/leave")


def test_speak(client, respx_mock):
    route = respx_mock.post(f"{AGENTS}/AG1/speak").respond(
        200, json={"agent_id": "AG1", "channel": "ch-42", "start_ts": 1744877089}
    )
    result = client.speak("AG1", text="Please hold.", priority="APPEND", interruptable=False)
    assert_sent(
        route,
        method="POST",
        url=f"{AGENTS}/AG1/speak",
        body={"text": "Please hold.", "priority": "APPEND", "interruptable": False},
    )
    assert result == SpeakResult(agent_id="AG1", channel="ch-42", start_ts=1744877089)


def test_speak_defaults(client, respx_mock):
    route = respx_mock.post(f"{AGENTS}/AG1/speak").respond(200, json={"agent_id": "AG1"})
    client.speak("AG1", text="é" * 256)  # exactly 512 bytes
    assert body_of(only_request(route)) == {
        "text": "é" * 256,
        "priority": "INTERRUPT",
        "interruptable": True,
    }


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"text": "é" * 257}, "text"),  # 514 bytes though only 257 characters
        ({"text": ""}, "text"),
        ({"text": "hi", "priority": "URGENT"}, "priority"),
    ],
)
def test_speak_validation(client, kwargs, field):
    with pytest.raises(ValueError, match=field):
        client.speak("AG1", **kwargs)


def test_interrupt_agent(client, respx_mock):
    route = respx_mock.post(f"{AGENTS}/AG1/interrupt").respond(
        200, json={"agent_id": "AG1", "channel": "ch-42", "start_ts": 1744877089}
    )
    result = client.interrupt_agent("AG1")
    assert_sent(route, method="POST", url=f"{AGENTS}/AG1/interrupt", body={})
    assert result == SpeakResult(agent_id="AG1", channel="ch-42", start_ts=1744877089)


# -- bodies that aren't what the API documents ------------------------------------------------


@pytest.mark.parametrize(
    ("response", "match"),
    [
        (httpx.Response(200, text="<html>maintenance</html>"), "not JSON"),
        (httpx.Response(200), "empty body"),
        (httpx.Response(200, json=["a"]), "JSON object"),
    ],
)
def test_unexpected_2xx_bodies_raise_agora_error(client, respx_mock, response, match):
    respx_mock.get(f"{PROJECT}/calls/A1").mock(return_value=response)
    with pytest.raises(AgoraError, match=match) as excinfo:
        client.get_call("A1")
    assert excinfo.value.path == f"/v2/projects/{APP_ID}/calls/A1"
    assert excinfo.value.status_code == 200


# -- client basics ----------------------------------------------------------------------------


def test_basic_auth_needs_customer_credentials(make_client, respx_mock):
    client = make_client(customer_id="", customer_secret="")
    with pytest.raises(AgoraConfigurationError, match="customer_id/customer_secret"):
        client.get_call("A1")
    with pytest.raises(ValueError, match="AGORA_CUSTOMER_SECRET"):
        client.list_phone_numbers()


def test_http_client_settings(make_config):
    config = make_config(connect_timeout=2.0, read_timeout=9.0)
    with AgoraClient(config) as client:
        http = client._http
        assert http.timeout == httpx.Timeout(connect=2.0, read=9.0, write=9.0, pool=2.0)
        assert http.follow_redirects is False
    assert http.is_closed


def test_redirects_are_not_followed(client, respx_mock):
    respx_mock.get(f"{PROJECT}/calls/A1").respond(302, headers={"Location": "https://evil.test/"})
    with pytest.raises(AgoraError) as excinfo:
        client.get_call("A1")
    assert excinfo.value.status_code == 302


def test_repr_has_no_secrets(make_client):
    client = make_client()
    assert "secret" not in repr(client).lower()
    assert repr(client).startswith("AgoraClient(")


def test_override_base_url(make_client, respx_mock):
    client = make_client(base_url="http://127.0.0.1:8900")
    route = respx_mock.get(
        f"http://127.0.0.1:8900/api/conversational-ai-agent/v2/projects/{APP_ID}/calls/A1"
    ).respond(200, json=CALL)
    client.get_call("A1")
    assert route.call_count == 1
    assert client.hosts == ("http://127.0.0.1:8900/api/conversational-ai-agent",)


def test_config_is_the_only_input():
    # No Django needed: a plain config object is enough.
    client = AgoraClient(AgoraConfig(app_id=APP_ID))
    client.close()


def test_think_injects_an_instruction_with_agoras_defaults_unless_given(client, respx_mock):
    route = respx_mock.post(f"{AGENTS}/AG1/think").respond(
        200, json={"agent_id": "AG1", "channel": "ch-42", "start_ts": 1744877089}
    )
    result = client.think("AG1", text="Offer the Friday slot.")
    assert_sent(route, method="POST", url=f"{AGENTS}/AG1/think",
                body={"text": "Offer the Friday slot.", "interruptable": True})  # fmt: skip
    assert result == SpeakResult(agent_id="AG1", channel="ch-42", start_ts=1744877089)

    client.think("AG1", text="Wrap up.", interruptable=False, on_listening_action="inject",
                 on_speaking_action="interrupt", metadata={"supervisor": "ada"})  # fmt: skip
    assert body_of(route.calls[-1].request) == {
        "text": "Wrap up.", "interruptable": False, "on_listening_action": "inject",
        "on_speaking_action": "interrupt", "metadata": {"supervisor": "ada"},
    }  # fmt: skip


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"text": " "}, "text"), ({"text": "x", "on_thinking_action": "inject"}, "on_thinking_action"),
     ({"text": "x", "on_dreaming_action": "ignore"}, "on_dreaming_action"),
     ({"text": "x", "metadata": {"n": 1}}, "metadata")],
)  # fmt: skip
def test_think_validation(client, kwargs, field):
    with pytest.raises(ValueError, match=field):
        client.think("AG1", **kwargs)
