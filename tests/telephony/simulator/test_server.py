"""The simulator as a real server: our client, Agora's official SDK, and signed webhooks."""

import json
import time

import httpx
import pytest
from agora_agent import Agora, Area
from agora_agent.core.api_error import ApiError
from agora_agent.phone_numbers.types.add_phone_numbers_request_inbound_config import (
    AddPhoneNumbersRequestInboundConfig,
)
from agora_agent.phone_numbers.types.add_phone_numbers_request_outbound_config import (
    AddPhoneNumbersRequestOutboundConfig,
)
from agora_agent.phone_numbers.types.update_phone_numbers_request_inbound_config import (
    UpdatePhoneNumbersRequestInboundConfig,
)
from agora_agent.telephony.types.call_telephony_request_properties import (
    CallTelephonyRequestProperties,
)
from agora_agent.telephony.types.call_telephony_request_sip import CallTelephonyRequestSip

from telephony.agora import AgoraClient, AgoraConfig, AgoraTransportError, CallNameConflict
from telephony.agora.tokens import build_call_tokens
from tests.support.e2e import Receiver
from tests.support.processes import simulator_server, wait_for
from tests.support.simulator import (
    APP_CERTIFICATE,
    APP_ID,
    CALLER,
    CUSTOMER_ID,
    CUSTOMER_SECRET,
    WEBHOOK_SECRET,
    call_request,
    import_number,
    verify_signatures,
)

pytestmark = [pytest.mark.services, pytest.mark.real_clock]

CREDENTIALS = (
    "--app-id", APP_ID, "--customer-id", CUSTOMER_ID, "--customer-secret", CUSTOMER_SECRET,
    "--app-certificate", APP_CERTIFICATE,
)  # fmt: skip


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.close()


def our_client(base_url: str, **overrides) -> AgoraClient:
    values = {
        "app_id": APP_ID,
        "customer_id": CUSTOMER_ID,
        "customer_secret": CUSTOMER_SECRET,
        "base_url": base_url,
        **overrides,
    }
    return AgoraClient(AgoraConfig(**values))


def test_our_client_places_a_call_and_webhooks_arrive_signed(tmp_path, receiver):
    args = (*CREDENTIALS, "--webhook-url", receiver.url, "--webhook-secret", WEBHOOK_SECRET)
    with simulator_server(tmp_path, *args) as base_url, our_client(base_url) as client:
        import_number(client)
        placed = client.place_call(
            call_request("+14155550003", name="srv-1", signed_at=time.time())
        )  # fails at once

        wait_for(lambda: len(receiver.received) >= 5, timeout=15, message="webhooks")
        assert client.get_call(placed.agent_id).reason == "failed"
        ledger = httpx.get(f"{base_url}/_simulator/ledger").json()

    events = [json.loads(body) for body, _ in receiver.received]
    assert [(e["eventType"], e["payload"].get("state")) for e in events] == [
        (202, "START"), (101, None), (110, None), (202, "HANGUP"), (102, None),
    ]  # fmt: skip
    for body, headers in receiver.received:
        verify_signatures(body, headers)
    assert ledger["calls"]["placed"] == 1
    assert ledger["webhooks"]["delivered"] == 5


def test_a_lost_response_over_a_real_socket(tmp_path):
    args = (*CREDENTIALS, "--lost-response-rate", "1", "--fault-operations", "place_call")
    with simulator_server(tmp_path, *args) as base_url:
        with our_client(base_url, max_retries=0) as client:
            import_number(client)
            with pytest.raises(AgoraTransportError) as error:
                client.place_call(call_request("+14155550150", name="lost", signed_at=time.time()))
            assert error.value.response_lost is True
        # Every answer is lost, 409s included; once the network recovers, a retry meets 409.
        httpx.post(f"{base_url}/_simulator/faults", json={"http": {}}).raise_for_status()
        with our_client(base_url) as client, pytest.raises(CallNameConflict):
            client.place_call(call_request("+14155550150", name="lost", signed_at=time.time()))
        calls = httpx.get(f"{base_url}/_simulator/calls").json()
    assert [call["name"] for call in calls] == ["lost"]


def test_the_official_sdk_works_unchanged(tmp_path, monkeypatch):
    with simulator_server(tmp_path, *CREDENTIALS) as base_url:
        monkeypatch.setenv("AGORA_AGENTS_API_BASE_URL", base_url)
        sdk = Agora(
            area=Area.US,
            app_id=APP_ID,
            app_certificate=APP_CERTIFICATE,
            customer_id=CUSTOMER_ID,
            customer_secret=CUSTOMER_SECRET,
        )
        # phone_numbers.add / get / list / update, and the 409 on a second import
        added = sdk.phone_numbers.add(
            provider="byo",
            phone_number=CALLER,
            label="Main line",
            inbound_config=AddPhoneNumbersRequestInboundConfig(allowed_addresses=["10.0.0.0/8"]),
            outbound_config=AddPhoneNumbersRequestOutboundConfig(
                address="sip.example.com", transport="tls"
            ),
        )
        assert added.phone_number == CALLER
        with pytest.raises(ApiError) as duplicate:
            sdk.phone_numbers.add(
                provider="byo",
                phone_number=CALLER,
                label="Again",
                inbound_config=AddPhoneNumbersRequestInboundConfig(),
                outbound_config=AddPhoneNumbersRequestOutboundConfig(address="sip.example.com"),
            )
        assert duplicate.value.status_code == 409
        assert sdk.phone_numbers.get(CALLER).label == "Main line"
        assert [item.phone_number for item in sdk.phone_numbers.list()] == [CALLER]
        updated = sdk.phone_numbers.update(
            CALLER, inbound_config=UpdatePhoneNumbersRequestInboundConfig(pipeline_id="p-1")
        )
        assert updated.associated_pipeline.pipeline_id == "p-1"

        # telephony.call / get / list / hangup, and the 409 on a repeated name
        tokens = build_call_tokens(
            app_id=APP_ID, app_certificate=APP_CERTIFICATE, channel="sdk-channel",
            agent_uid=111, sip_uid=100,
        )  # fmt: skip
        call_args = {
            "name": "sdk-call-1",
            "sip": CallTelephonyRequestSip(
                to_number="+14155550004",
                from_number=CALLER,
                rtc_uid=tokens.sip_uid,
                rtc_token=tokens.sip_token,
            ),
            "properties": CallTelephonyRequestProperties(
                channel="sdk-channel",
                token=tokens.agent_token,
                agent_rtc_uid=tokens.agent_uid,
                remote_rtc_uids=[tokens.sip_uid],
            ),
            "pipeline_id": "p-1",
        }
        placed = sdk.telephony.call(APP_ID, **call_args)
        assert placed.agent_id
        with pytest.raises(ApiError) as conflict:
            sdk.telephony.call(APP_ID, **call_args)
        assert conflict.value.status_code == 409

        got = sdk.telephony.get(APP_ID, placed.agent_id)
        assert (got.agent_id, got.channel, got.type) == (placed.agent_id, "sdk-channel", "outbound")
        listed = [item.agent_id for item in sdk.telephony.list(APP_ID, limit=10)]
        assert listed == [placed.agent_id]
        sdk.telephony.hangup(APP_ID, placed.agent_id)
        assert sdk.telephony.get(APP_ID, placed.agent_id).reason == "request"

        # phone_numbers.delete, then the number is gone
        sdk.phone_numbers.delete(CALLER)
        with pytest.raises(ApiError) as missing:
            sdk.phone_numbers.get(CALLER)
        assert missing.value.status_code == 404
