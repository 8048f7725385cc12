"""Request bodies and tolerant parsing of results."""

import pytest

from telephony.agora import (
    AgentHistory,
    AgentStatus,
    CallInfo,
    CallPage,
    ChatMessage,
    PhoneNumberImport,
    PhoneNumberInfo,
    PlaceCallRequest,
    PlacedCall,
    SpeakResult,
    Turn,
    TurnsPage,
)
from telephony.agora.redaction import REDACTED, scrub


def _request(**overrides) -> PlaceCallRequest:
    values = {
        "name": "attempt-42-1",
        "to_number": "+19876543210",
        "from_number": "+11234567890",
        "sip_rtc_uid": 100,
        "sip_rtc_token": "sip-token-value",
        "channel": "ch-42",
        "agent_token": "agent-token-value",
        "agent_rtc_uid": 111,
        **overrides,
    }
    return PlaceCallRequest(**values)


def test_place_call_body_with_pipeline():
    body = _request(pipeline_id="fzufjlweixxxxnlp", properties={"labels": {"call_id": "42"}})
    assert body.to_body() == {
        "name": "attempt-42-1",
        "sip": {
            "to_number": "+19876543210",
            "from_number": "+11234567890",
            "rtc_uid": "100",
            "rtc_token": "sip-token-value",
        },
        "pipeline_id": "fzufjlweixxxxnlp",
        "properties": {
            "labels": {"call_id": "42"},
            "channel": "ch-42",
            "token": "agent-token-value",
            "agent_rtc_uid": "111",
            "remote_rtc_uids": ["100"],
        },
    }


def test_place_call_body_without_pipeline_and_custom_remote_uids():
    llm = {"url": "https://llm.example/v1", "api_key": "k-123456"}
    body = _request(remote_rtc_uids=[100, "200"], properties={"llm": llm}).to_body()
    assert "pipeline_id" not in body
    assert body["properties"]["remote_rtc_uids"] == ["100", "200"]
    assert body["properties"]["llm"] == llm
    # The body is a copy: mutating it doesn't change the request.
    body["properties"]["llm"]["url"] = "changed"
    assert llm["url"] == "https://llm.example/v1"


def test_place_call_repr_hides_tokens_and_properties():
    text = repr(_request(properties={"llm": {"api_key": "k-123456"}}))
    assert "sip-token-value" not in text
    assert "agent-token-value" not in text
    assert "k-123456" not in text


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": ""}, "name"),
        ({"to_number": ""}, "to_number"),
        ({"sip_rtc_token": ""}, "sip_rtc_token"),
        ({"agent_token": " "}, "agent_token"),
        ({"properties": {"channel": "other"}}, "properties"),
        ({"agent_rtc_uid": "100"}, "agent_rtc_uid"),
    ],
)
def test_place_call_validation(overrides, field):
    with pytest.raises(ValueError, match=field):
        _request(**overrides)


def test_placed_call():
    assert PlacedCall.from_api({"agent_id": "A1", "extra": 1}).agent_id == "A1"
    assert PlacedCall.from_api({}).agent_id == ""


def test_call_info_full_and_live():
    info = CallInfo.from_api(
        {
            "to_number": "1300000000",
            "from_number": "1330000000",
            "pipeline_id": "28",
            "type": "inbound",
            "agent_id": "A42AA",
            "channel": "channel_1111",
            "reason": "request",
            "create_ts": 1758498988,
            "state": "hangup",
            "stop_ts": 1758498995,
            "new_field": True,
        }
    )
    assert info == CallInfo(
        agent_id="A42AA",
        channel="channel_1111",
        to_number="1300000000",
        from_number="1330000000",
        pipeline_id="28",
        type="inbound",
        state="hangup",
        reason="request",
        create_ts=1758498988,
        stop_ts=1758498995,
    )
    assert info.is_ended
    assert info.raw["new_field"] is True
    live = CallInfo.from_api({"agent_id": "B", "state": "answered", "stop_ts": 0})
    assert (live.stop_ts, live.reason, live.is_ended) == (None, None, False)
    assert CallInfo.from_api({"agent_id": "C", "stop_ts": None}).stop_ts is None
    assert CallInfo.from_api({"agent_id": "D", "state": "ringing"}).state == "ringing"
    assert CallInfo.from_api({}).agent_id == ""


def test_call_page():
    page = CallPage.from_api(
        {
            "data": {"count": 1, "list": [{"agent_id": "A", "state": "answered"}, "junk"]},
            "meta": {"cursor": "A", "total": 7},
            "status": "ok",
        }
    )
    assert [c.agent_id for c in page.calls] == ["A"]
    assert (page.cursor, page.total, page.count) == ("A", 7, 1)
    empty = CallPage.from_api({"data": {"list": []}, "meta": {"cursor": ""}})
    assert (empty.calls, empty.cursor, empty.total, empty.count) == ([], None, None, 0)
    assert CallPage.from_api({}).calls == []


def test_phone_number_import_body():
    number = PhoneNumberImport(
        provider="byo",
        phone_number="+19876543210",
        label="Sales",
        inbound_allowed_addresses=["112.126.15.64/27"],
        outbound_address="sip.example.com",
        outbound_transport="tls",
        outbound_prefix="",
        outbound_user="trunk-user",
        outbound_password="trunk-password-1",
    )
    assert number.to_body() == {
        "provider": "byo",
        "phone_number": "+19876543210",
        "label": "Sales",
        "inbound": True,
        "outbound": True,
        "inbound_config": {"allowed_addresses": ["112.126.15.64/27"]},
        "outbound_config": {
            "address": "sip.example.com",
            "transport": "tls",
            "user": "trunk-user",
            "password": "trunk-password-1",
        },
    }
    assert "trunk-password-1" not in repr(number)
    assert "trunk-password-1" not in scrub("sent trunk-password-1")


def test_phone_number_import_minimal_and_address_credentials():
    number = PhoneNumberImport(
        provider="twilio",
        phone_number="+15550001111",
        label="Main",
        inbound=False,
        outbound_address="user:addr-pass-99@trunk.pstn.twilio.com",
    )
    body = number.to_body()
    assert body["inbound"] is False
    assert body["inbound_config"] == {"allowed_addresses": []}
    assert body["outbound_config"] == {"address": "user:addr-pass-99@trunk.pstn.twilio.com"}
    assert "addr-pass-99" not in repr(number)
    assert "addr-pass-99" not in scrub("address user:addr-pass-99@trunk")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"provider": "vonage"}, "provider"),
        ({"phone_number": "5550001111"}, "phone_number"),
        ({"label": ""}, "label"),
        ({"outbound_transport": "ws"}, "outbound_transport"),
    ],
)
def test_phone_number_import_validation(overrides, field):
    values = {"provider": "byo", "phone_number": "+15550001111", "label": "x", **overrides}
    with pytest.raises(ValueError, match=field):
        PhoneNumberImport(**values)


def test_phone_number_info_strips_passwords():
    info = PhoneNumberInfo.from_api(
        {
            "provider": "byo",
            "phone_number": "+11234567890",
            "label": "Support",
            "inbound": True,
            "outbound": False,
            "associated_pipeline": {"pipeline_id": "p1", "pipeline_name": "Bot"},
            "inbound_config": {"allowed_addresses": ["1.2.3.4/32"]},
            "outbound_config": {
                "address": "bob:pw-in-address@sip.example.com",
                "transport": "tls",
                "user": "bob",
                "password": "pw-from-api",
            },
        }
    )
    assert info.associated_pipeline_id == "p1"
    assert info.associated_pipeline_name == "Bot"
    assert (info.inbound, info.outbound) == (True, False)
    assert info.inbound_config == {"allowed_addresses": ["1.2.3.4/32"]}
    assert info.outbound_config == {
        "address": f"bob:{REDACTED}@sip.example.com",
        "transport": "tls",
        "user": "bob",
    }
    everything = repr(info) + repr(info.raw)
    assert "pw-from-api" not in everything
    assert "pw-in-address" not in everything


def test_phone_number_info_tolerates_sparse_and_legacy_shapes():
    info = PhoneNumberInfo.from_api(
        {
            "phone_number": "+1",
            "associated_agent": {"agent_id": "a1", "agent_name": "Bot"},
            "associated_pipeline": None,
        }
    )
    assert (info.associated_pipeline_id, info.associated_pipeline_name) == ("a1", "Bot")
    assert (info.inbound_config, info.outbound_config, info.provider) == (None, None, None)
    bare = PhoneNumberInfo.from_api({"phone_number": "+2", "associated_pipeline": None})
    assert bare.associated_pipeline_id is None


@pytest.mark.parametrize(
    ("status", "code"),
    [
        ("IDLE", 0),
        ("STARTING", 1),
        ("RUNNING", 2),
        ("STOPPING", 3),
        ("STOPPED", 4),
        ("RECOVERING", 5),
        ("FAILED", 6),
        ("running", 2),
        ("NEW_STATE", None),
        (6, 6),
    ],
)
def test_agent_status_codes(status, code):
    parsed = AgentStatus.from_api({"agent_id": "A", "status": status})
    assert parsed.status_code == code


def test_agent_status_fields():
    status = AgentStatus.from_api(
        {
            "message": "agent exits with reason: xxxx",
            "start_ts": 1735035893,
            "stop_ts": 1735035900,
            "status": "FAILED",
            "agent_id": "1NT29X",
        }
    )
    assert status == AgentStatus(
        agent_id="1NT29X",
        status="FAILED",
        status_code=6,
        start_ts=1735035893,
        stop_ts=1735035900,
        message="agent exits with reason: xxxx",
    )
    assert status.is_finished


def test_agent_history():
    history = AgentHistory.from_api(
        {
            "agent_id": "xxxx",
            "start_ts": 123,
            "status": "RUNNING",
            "contents": [
                {"role": "user", "content": "hello."},
                {"role": "assistant", "content": "hi, how can I help you?"},
                "junk",
            ],
        }
    )
    assert history.contents == [
        ChatMessage(role="user", content="hello."),
        ChatMessage(role="assistant", content="hi, how can I help you?"),
    ]
    assert (history.agent_id, history.status, history.start_ts) == ("xxxx", "RUNNING", 123)
    assert AgentHistory.from_api({}).contents == []


TURN = {
    "agent_id": "A42A",
    "channel": "test_channel",
    "turn_id": 1,
    "start": {"start_at": 1774579820147, "type": "greeting", "metadata": {"greeting_nth": 1}},
    "end": {"end_at": 1774579822412, "type": "interrupted", "metadata": {}},
    "metrics": {
        "e2e_latency_ms": 337,
        "segmented_latency_ms": [
            {"name": "tts_ttfb", "latency": 337},
            {"name": "llm_ttft", "latency": 120.5},
            {"latency": 5},
        ],
    },
}


def test_turn():
    turn = Turn.from_api(TURN)
    assert turn == Turn(
        turn_id=1,
        start_type="greeting",
        start_at_ms=1774579820147,
        end_type="interrupted",
        end_at_ms=1774579822412,
        e2e_latency_ms=337.0,
        segmented_latency_ms={"tts_ttfb": 337.0, "llm_ttft": 120.5},
    )
    assert turn.raw["start"]["metadata"] == {"greeting_nth": 1}
    assert Turn.from_api({}) == Turn()


def test_turns_page():
    page = TurnsPage.from_api(
        {
            "agent_id": "A42A",
            "name": "support_agent_001",
            "channel": "test_channel",
            "total_turn_count": 250,
            "pagination": {"page_index": 1, "total_pages": 5, "is_last_page": False},
            "turns": [TURN],
        }
    )
    assert (page.agent_id, page.channel, page.total_turn_count) == ("A42A", "test_channel", 250)
    assert (page.page_index, page.total_pages, page.is_last_page) == (1, 5, False)
    assert page.turns[0].turn_id == 1


@pytest.mark.parametrize(
    ("pagination", "is_last"),
    [
        ({}, True),
        ({"page_index": 2, "total_pages": 3}, False),
        ({"page_index": 3, "total_pages": 3}, True),
        ({"is_last_page": True, "page_index": 1, "total_pages": 9}, True),
    ],
)
def test_turns_page_last_page_inference(pagination, is_last):
    assert TurnsPage.from_api({"pagination": pagination}).is_last_page is is_last


def test_speak_result():
    result = SpeakResult.from_api(
        {"agent_id": "1NT29", "channel": "test_channel", "start_ts": 1744877089}
    )
    assert result == SpeakResult(agent_id="1NT29", channel="test_channel", start_ts=1744877089)
