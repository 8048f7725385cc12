"""No secret reaches a log record, an exception message or a repr."""

import logging

import httpx
import pytest

from telephony.agora import AgoraError, PhoneNumberImport, PlaceCallRequest, build_call_tokens

from . import APP_CERTIFICATE, APP_ID, BASIC_CREDENTIAL, CUSTOMER_SECRET

# One host, so retries don't fail over to a different URL.
LOCAL = "http://agora.test/api/conversational-ai-agent"
PROJECT = f"{LOCAL}/v2/projects/{APP_ID}"
NUMBERS = f"{LOCAL}/v2/phone-numbers"

SIP_PASSWORD = "sip-trunk-password-31337"
LLM_KEY = "sk-llm-key-0123456789"


def test_nothing_secret_in_logs_or_errors(make_client, make_config, respx_mock, caplog):
    caplog.set_level(logging.DEBUG, logger="telephony.agora.client")
    client = make_client(auth_mode="token", base_url="http://agora.test")
    tokens = build_call_tokens(
        app_id=APP_ID, app_certificate=APP_CERTIFICATE, channel="ch-1", agent_uid=111, sip_uid=100
    )
    request = PlaceCallRequest(
        name="attempt-1",
        to_number="+19876543210",
        from_number="+11234567890",
        sip_rtc_uid=tokens.sip_uid,
        sip_rtc_token=tokens.sip_token,
        channel="ch-1",
        agent_token=tokens.agent_token,
        agent_rtc_uid=tokens.agent_uid,
        properties={"llm": {"api_key": LLM_KEY, "url": "https://llm.example"}},
    )
    errors: list[BaseException] = []
    auth_tokens: list[str] = []

    # A successful call whose response echoes a token back.
    place = respx_mock.post(f"{PROJECT}/call").respond(
        200, json={"agent_id": "AG1", "echo": {"token": tokens.agent_token}}
    )
    client.place_call(request)
    auth_tokens.append(place.calls.last.request.headers["Authorization"])

    # A 401 whose body quotes the credential it refused.
    respx_mock.get(f"{PROJECT}/calls/AG1").respond(
        401, json={"detail": f"bad credential {auth_tokens[0]}", "reason": "Unauthorized"}
    )
    with pytest.raises(AgoraError) as excinfo:
        client.get_call("AG1", auth_channel="ch-1")
    errors.append(excinfo.value)

    # A retried failure on an account-level (Basic) endpoint carrying a SIP password.
    respx_mock.post(NUMBERS).mock(
        side_effect=[
            httpx.ConnectError("refused"),
            httpx.Response(
                422, json={"error_type": "unprocessable_content", "description": SIP_PASSWORD}
            ),
        ]
    )
    number = PhoneNumberImport(
        provider="byo",
        phone_number="+15550001111",
        label="Main",
        outbound_address=f"trunk:{SIP_PASSWORD}@sip.example.com",
        outbound_user="trunk",
        outbound_password=SIP_PASSWORD,
    )
    with pytest.raises(AgoraError) as excinfo:
        client.import_phone_number(number)
    errors.append(excinfo.value)

    # A retried transport failure, exhausted.
    respx_mock.get(f"{PROJECT}/agents/AG1").mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(AgoraError) as excinfo:
        client.get_agent_status("AG1", auth_channel="ch-1")
    errors.append(excinfo.value)

    forbidden = {
        "customer secret": CUSTOMER_SECRET,
        "basic credential": BASIC_CREDENTIAL,
        "app certificate": APP_CERTIFICATE,
        "sip password": SIP_PASSWORD,
        "agent token": tokens.agent_token,
        "sip token": tokens.sip_token,
        "llm key": LLM_KEY,
        **{f"auth token {i}": t.removeprefix("agora token=") for i, t in enumerate(auth_tokens)},
    }
    texts = [record.getMessage() for record in caplog.records]
    assert len(texts) >= 8  # one line per attempt plus debug bodies: the test saw real logging
    texts += [str(e) for e in errors] + [repr(e) for e in errors]
    texts += [repr(make_config()), str(make_config()), repr(client), repr(request), repr(number)]
    texts += [repr(tokens)]
    for text in texts:
        for name, secret in forbidden.items():
            assert secret not in text, f"{name} leaked into: {text}"


def test_basic_credential_stays_out_of_logs(make_client, respx_mock, caplog):
    caplog.set_level(logging.DEBUG, logger="telephony.agora.client")
    client = make_client(base_url="http://agora.test")
    respx_mock.get(NUMBERS).mock(side_effect=[httpx.Response(503), httpx.Response(200, json=[])])
    client.list_phone_numbers()
    assert caplog.records
    for record in caplog.records:
        assert BASIC_CREDENTIAL not in record.getMessage()
        assert CUSTOMER_SECRET not in record.getMessage()


def test_one_log_line_per_attempt_with_the_essentials(make_client, respx_mock, caplog):
    caplog.set_level(logging.INFO, logger="telephony.agora.client")
    client = make_client(base_url="http://agora.test")
    url = f"{PROJECT}/calls/A1"
    respx_mock.get(url).mock(side_effect=[httpx.Response(502), httpx.Response(200, json={})])
    client.get_call("A1")
    lines = [
        (r.levelno, r.getMessage()) for r in caplog.records if r.name == "telephony.agora.client"
    ]
    assert len(lines) == 2
    (warn_level, warning), (info_level, info) = lines
    assert warn_level == logging.WARNING
    assert warning.startswith(f"agora get_call GET /v2/projects/{APP_ID}/calls/A1 -> 502")
    assert "attempt=1" in warning
    assert "elapsed_ms=" in warning
    assert "retry_in=0.50s" in warning
    assert info_level == logging.INFO
    assert info.startswith(f"agora get_call GET /v2/projects/{APP_ID}/calls/A1 -> 200 attempt=2")


def test_debug_bodies_are_redacted(make_client, respx_mock, caplog):
    caplog.set_level(logging.DEBUG, logger="telephony.agora.client")
    client = make_client(base_url="http://agora.test")
    respx_mock.post(f"{PROJECT}/agents/AG1/speak").respond(200, json={"agent_id": "AG1"})
    client.speak("AG1", text="hello there")
    debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert any("'text': 'hello there'" in line for line in debug)
    assert any("'agent_id': 'AG1'" in line for line in debug)
