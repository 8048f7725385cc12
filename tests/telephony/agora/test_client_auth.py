"""Authorization headers: Basic everywhere by default; channel-scoped tokens in token mode."""

import time

import pytest

from telephony.agora import AgoraConfigurationError, PlaceCallRequest

from . import APP_ID, BASIC_HEADER, NUMBERS, PROJECT, crc, decode_token

AGENTS = f"{PROJECT}/agents"


@pytest.fixture
def token_client(make_client):
    return make_client(auth_mode="token", token_ttl=600)


def _token_from(request) -> str:
    header = request.headers["Authorization"]
    assert header.startswith("agora token=006" + APP_ID)
    return header.removeprefix("agora token=")


def test_basic_header_is_base64_of_id_and_secret(client, respx_mock):
    route = respx_mock.get(f"{PROJECT}/calls/A1").respond(200, json={})
    client.get_call("A1", auth_channel="ignored-in-basic-mode")
    assert route.calls.last.request.headers["Authorization"] == BASIC_HEADER


def test_token_mode_uses_a_channel_scoped_token(token_client, respx_mock):
    route = respx_mock.get(f"{PROJECT}/calls/A1").respond(200, json={})
    before = int(time.time())
    token_client.get_call("A1", auth_channel="ch-7")
    decoded = decode_token(_token_from(route.calls.last.request))
    assert decoded["crc_channel"] == crc("ch-7")
    assert decoded["crc_uid"] == crc("")  # uid 0
    expiry = set(decoded["privileges"].values())
    assert len(expiry) == 1
    assert before + 600 <= expiry.pop() <= int(time.time()) + 600


def test_place_call_defaults_the_auth_channel_to_the_calls_channel(token_client, respx_mock):
    route = respx_mock.post(f"{PROJECT}/call").respond(200, json={"agent_id": "AG1"})
    request = PlaceCallRequest(
        name="n-1",
        to_number="+19876543210",
        from_number="+11234567890",
        sip_rtc_uid="100",
        sip_rtc_token="sip-token-abc123",
        channel="call-channel",
        agent_token="agent-token-abc123",
        agent_rtc_uid="111",
    )
    token_client.place_call(request)
    assert decode_token(_token_from(route.calls.last.request))["crc_channel"] == crc("call-channel")
    token_client.place_call(request, auth_channel="other-channel")
    assert decode_token(_token_from(route.calls.last.request))["crc_channel"] == crc(
        "other-channel"
    )


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.get_call("A1"),
        lambda c: c.list_calls(),
        lambda c: next(c.iter_calls()),
        lambda c: c.hangup_call("A1"),
        lambda c: c.get_agent_status("A1"),
        lambda c: c.get_agent_history("A1"),
        lambda c: c.get_agent_turns("A1"),
        lambda c: next(c.iter_agent_turns("A1")),
        lambda c: c.leave_agent("A1"),
        lambda c: c.speak("A1", text="hi"),
        lambda c: c.interrupt_agent("A1"),
    ],
)
def test_token_mode_requires_auth_channel(token_client, respx_mock, call):
    with pytest.raises(ValueError, match="auth_channel") as excinfo:
        call(token_client)
    assert isinstance(excinfo.value, AgoraConfigurationError)
    assert not respx_mock.calls  # nothing was sent


@pytest.mark.parametrize(
    ("method", "url", "call"),
    [
        ("GET", f"{AGENTS}/A1", lambda c: c.get_agent_status("A1", auth_channel="ch")),
        ("POST", f"{AGENTS}/A1/leave", lambda c: c.leave_agent("A1", auth_channel="ch")),
        (
            "POST",
            f"{AGENTS}/A1/speak",
            lambda c: c.speak("A1", text="hi", auth_channel="ch"),
        ),
        ("POST", f"{PROJECT}/calls/A1/hangup", lambda c: c.hangup_call("A1", auth_channel="ch")),
    ],
)
def test_token_mode_for_agent_and_call_endpoints(token_client, respx_mock, method, url, call):
    route = respx_mock.route(method=method, url=url).respond(200, json={})
    call(token_client)
    assert decode_token(_token_from(route.calls.last.request))["crc_channel"] == crc("ch")


@pytest.mark.parametrize(
    ("method", "url", "call"),
    [
        ("GET", NUMBERS, lambda c: c.list_phone_numbers()),
        ("GET", f"{NUMBERS}/%2B15550001111", lambda c: c.get_phone_number("+15550001111")),
        ("DELETE", f"{NUMBERS}/%2B15550001111", lambda c: c.delete_phone_number("+15550001111")),
        (
            "PATCH",
            f"{NUMBERS}/%2B15550001111",
            lambda c: c.update_phone_number("+15550001111", inbound_pipeline_id=None),
        ),
    ],
)
def test_phone_number_endpoints_stay_basic_in_token_mode(
    token_client, respx_mock, method, url, call
):
    body = [] if url == NUMBERS else {"phone_number": "+15550001111"}
    route = respx_mock.route(method=method, url=url).respond(200, json=body)
    call(token_client)
    assert route.calls.last.request.headers["Authorization"] == BASIC_HEADER
