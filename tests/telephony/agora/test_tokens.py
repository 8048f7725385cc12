"""RTC token building."""

import pytest

from telephony.agora import CallTokens, build_call_tokens, build_rtc_token
from telephony.agora.redaction import scrub

from . import APP_CERTIFICATE, APP_ID, crc, decode_token

NOW = 1_750_000_000


def test_token_format_uid_channel_and_expiry():
    token = build_rtc_token(
        app_id=APP_ID, app_certificate=APP_CERTIFICATE, channel="call-ch-1", uid="100", now=NOW
    )
    assert token.startswith("006" + APP_ID)
    decoded = decode_token(token)
    assert decoded["crc_channel"] == crc("call-ch-1")
    assert decoded["crc_uid"] == crc("100")
    # Publisher: join channel (1) and publish audio/video/data (2, 3, 4), all until now + ttl.
    assert decoded["privileges"] == {1: NOW + 3600, 2: NOW + 3600, 3: NOW + 3600, 4: NOW + 3600}


def test_ttl_sets_the_expiry():
    token = build_rtc_token(
        app_id=APP_ID,
        app_certificate=APP_CERTIFICATE,
        channel="c",
        uid=7,
        ttl_seconds=86_400,
        now=NOW + 0.9,
    )
    assert set(decode_token(token)["privileges"].values()) == {NOW + 86_400}


def test_uid_zero_means_any_uid():
    token = build_rtc_token(app_id=APP_ID, app_certificate=APP_CERTIFICATE, channel="c", uid=0)
    assert decode_token(token)["crc_uid"] == crc("")


def test_tokens_differ_per_uid_and_channel():
    common = {"app_id": APP_ID, "app_certificate": APP_CERTIFICATE, "now": NOW}
    a = decode_token(build_rtc_token(channel="ch-a", uid=1, **common))
    b = decode_token(build_rtc_token(channel="ch-a", uid=2, **common))
    c = decode_token(build_rtc_token(channel="ch-b", uid=1, **common))
    assert a["crc_uid"] != b["crc_uid"]
    assert a["crc_channel"] != c["crc_channel"]


def test_token_is_registered_as_a_secret():
    token = build_rtc_token(app_id=APP_ID, app_certificate=APP_CERTIFICATE, channel="c", uid=5)
    assert token not in scrub(f"the token is {token}.")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"ttl_seconds": 0}, "ttl_seconds"),
        ({"ttl_seconds": -10}, "ttl_seconds"),
        ({"ttl_seconds": 86_401}, "ttl_seconds"),
        ({"app_id": ""}, "app_id"),
        ({"app_certificate": ""}, "app_certificate"),
        ({"channel": ""}, "channel"),
        ({"uid": "abc"}, "uid"),
        ({"uid": -1}, "uid"),
        ({"uid": 2**32}, "uid"),
    ],
)
def test_invalid_arguments_name_the_field(overrides, field):
    values = {
        "app_id": APP_ID,
        "app_certificate": APP_CERTIFICATE,
        "channel": "c",
        "uid": 1,
        **overrides,
    }
    with pytest.raises(ValueError, match=field):
        build_rtc_token(**values)


def test_build_call_tokens():
    tokens = build_call_tokens(
        app_id=APP_ID,
        app_certificate=APP_CERTIFICATE,
        channel="call-ch-9",
        agent_uid=111,
        sip_uid="100",
        ttl_seconds=600,
        now=NOW,
    )
    assert isinstance(tokens, CallTokens)
    assert (tokens.agent_uid, tokens.sip_uid, tokens.expires_at) == ("111", "100", NOW + 600)
    agent, sip = decode_token(tokens.agent_token), decode_token(tokens.sip_token)
    assert agent["crc_uid"] == crc("111")
    assert sip["crc_uid"] == crc("100")
    assert agent["crc_channel"] == sip["crc_channel"] == crc("call-ch-9")
    assert tokens.agent_token not in repr(tokens)
    assert tokens.sip_token not in repr(tokens)


def test_build_call_tokens_refuses_one_uid_for_both():
    with pytest.raises(ValueError, match="sip_uid"):
        build_call_tokens(
            app_id=APP_ID, app_certificate=APP_CERTIFICATE, channel="c", agent_uid=1, sip_uid="1"
        )
