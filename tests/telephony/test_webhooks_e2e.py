"""End to end: the simulator server sends signed webhooks (duplicated, reordered) to the app,
a real Celery worker processes them, and every call ends in the right state."""

import httpx
import pytest
from django.conf import settings

from telephony.models import Call, CallEvent, PhoneNumber, WebhookEvent
from telephony.services.calls import call_create
from telephony.states import TERMINAL_STATUSES, CallStatus
from tests.support.clock import daytime_zone
from tests.support.e2e import import_caller, simulator_args, worker_env
from tests.support.processes import celery_worker, options, simulator_server, wait_for

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True), pytest.mark.real_clock]


def test_webhooks_alone_bring_every_call_to_its_end(
    tmp_path, redis_db, live_server, caller_number, agent_profile, clock
):
    inbound_number = PhoneNumber.objects.create(
        e164="+14155550177", label="Front desk", inbound=True, outbound=False,
        sync_state=PhoneNumber.SyncState.SYNCED,
    )  # fmt: skip
    args = simulator_args(
        "--webhook-url", f"{live_server.url}/webhooks/agora/",
        *options(webhook_secret=settings.AGORA_WEBHOOK_SECRET),
        "--webhook-duplicate-rate", "0.4",
        "--webhook-reorder-rate", "0.4",
        "--ring-timeout", "3",
        "--seed", "11",
    )  # fmt: skip
    with simulator_server(tmp_path, *args) as base_url:
        import_caller(base_url, caller_number)
        httpx.post(
            f"{base_url}/api/conversational-ai-agent/v2/phone-numbers",
            json={"provider": "byo", "phone_number": inbound_number.e164, "label": "Front desk",
                  "outbound": False, "inbound_config": {}, "outbound_config": {}},
            auth=(settings.AGORA_CUSTOMER_ID, settings.AGORA_CUSTOMER_SECRET),
        ).raise_for_status()  # fmt: skip
        # Polling is held off: only webhooks may end these calls.
        env = worker_env(base_url, CALL_POLL_AFTER_SECONDS="600")
        with celery_worker(tmp_path, hostname="hooks@test", concurrency=2, **env) as worker:
            outbound = {
                callee: call_create(
                    to_number=callee,
                    caller_id=caller_number,
                    agent_profile=agent_profile,
                    variables={"first_name": "Ada"},
                    callee_timezone=daytime_zone(clock.now()),
                )
                for callee in ("+14155550050", "+14155550001", "+14155550002", "+14155550003")
            }
            httpx.post(
                f"{base_url}/_simulator/inbound-calls",
                json={"from_number": "+12125550123", "to_number": inbound_number.e164,
                      "talk_seconds": 4},
            ).raise_for_status()  # fmt: skip

            def all_ended() -> bool:
                inbound_done = Call.objects.filter(
                    direction="inbound", status__in=TERMINAL_STATUSES
                ).exists()
                outbound_done = all(
                    Call.objects.get(pk=c.pk).status in TERMINAL_STATUSES for c in outbound.values()
                )
                return inbound_done and outbound_done

            wait_for(all_ended, timeout=90, message=f"every call to end:\n{worker.log()}")
            # The end-of-call history (103) may still be on its way when the call has ended.
            wait_for(
                lambda: not WebhookEvent.objects.filter(status="received").exists(),
                timeout=30,
                message="every notification received to be processed",
            )
            ledger = httpx.get(f"{base_url}/_simulator/ledger").json()

    outcome = {callee: Call.objects.get(pk=c.pk).status for callee, c in outbound.items()}
    assert outcome == {
        "+14155550050": CallStatus.COMPLETED,
        "+14155550001": CallStatus.NO_ANSWER,
        "+14155550002": CallStatus.BUSY,
        "+14155550003": CallStatus.FAILED,
    }
    inbound = Call.objects.get(direction="inbound")
    assert (inbound.status, inbound.caller_id_id) == (CallStatus.COMPLETED, inbound_number.id)
    assert not CallEvent.objects.filter(source=CallEvent.Source.POLL).exists()
    assert ledger["webhooks"]["duplicated"] > 0 and ledger["webhooks"]["reordered"] > 0
    assert WebhookEvent.objects.filter(deliveries__gt=1).exists()
    assert not WebhookEvent.objects.filter(status__in=["received", "failed"]).exists()
