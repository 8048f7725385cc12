"""Shared fixtures (a pytest plugin, see tests/conftest.py): the services run against an
in-process simulator on a manual clock."""

import time

import pytest

from telephony.agora import AgoraClient, AgoraConfig
from telephony.clients import use_agora_client
from telephony.models import AgentProfile, PhoneNumber
from telephony.simulator import ManualClock, Simulator, SimulatorConfig, sim_transport
from tests.support.factories import AgentProfileFactory, PhoneNumberFactory
from tests.support.simulator import WebhookCatcher


@pytest.fixture
def webhooks() -> WebhookCatcher:
    return WebhookCatcher()


@pytest.fixture
def simulator(settings, webhooks) -> Simulator:
    """The simulator, configured with the app's own (test) settings."""
    config = SimulatorConfig(
        app_id=settings.AGORA_APP_ID,
        customer_id=settings.AGORA_CUSTOMER_ID,
        customer_secret=settings.AGORA_CUSTOMER_SECRET,
        app_certificate=settings.AGORA_APP_CERTIFICATE,
        max_concurrent_calls=settings.AGORA_MAX_CONCURRENT_CALLS,
        webhook_url="http://app.test/webhooks/agora/",
        webhook_secret=settings.AGORA_WEBHOOK_SECRET,
    )
    # The app builds tokens and timestamps from the real time: the simulator starts there too.
    return Simulator(config, clock=ManualClock(start=time.time()), webhook_sender=webhooks)


@pytest.fixture
def agora(settings, simulator):
    """Every service in this process talks to `simulator` through the real client."""
    config = AgoraConfig.from_mapping(settings)
    client = AgoraClient(config, transport=sim_transport(simulator), sleep=lambda _: None)
    with client, use_agora_client(client):
        yield client


@pytest.fixture
def caller_number(db) -> PhoneNumber:
    return PhoneNumberFactory()


@pytest.fixture
def agent_profile(db) -> AgentProfile:
    return AgentProfileFactory()


@pytest.fixture
def imported_caller(agora, caller_number) -> PhoneNumber:
    """The caller number, imported at the simulator too (so it may place calls there)."""
    from telephony.agora import PhoneNumberImport

    agora.import_phone_number(
        PhoneNumberImport(
            provider="byo",
            phone_number=caller_number.e164,
            label=caller_number.label,
            outbound_address="sip.carrier.example",
        )
    )
    return caller_number


@pytest.fixture
def place(imported_caller, agent_profile):
    """Create and place one call at the simulator now; returns the fresh Call."""
    from telephony.models import Call
    from telephony.services.calls import call_create, call_place

    def place(to_number: str) -> Call:
        call = call_create(
            to_number=to_number,
            caller_id=imported_caller,
            agent_profile=agent_profile,
            variables={"first_name": "Ada"},
        )
        call_place(call_id=call.id)
        return Call.objects.get(pk=call.pk)

    return place


class FakeDns:
    """Stands in for DNS in contactcenter.crm_webhooks.targets (`resolve_host`).

    `dns["crm.example"] = ["93.184.215.14"]` sets a name's answer; `dns.answers("crm.example",
    [...], [...])` gives one answer per lookup (the last one repeats), as a rebinding attacker's
    server would. Every lookup is kept in `lookups`. IP literals and `localhost` are resolved
    by the real resolver (no query leaves the machine); any other name does not exist.
    """

    def __init__(self):
        self._answers: dict[str, list[list[str]]] = {}
        self.lookups: list[str] = []

    def __setitem__(self, name: str, addresses: list[str]) -> None:
        self._answers[name] = [list(addresses)]

    def answers(self, name: str, *answers: list[str]) -> None:
        self._answers[name] = [list(answer) for answer in answers]

    def __call__(self, host: str, port: int) -> list[str]:
        import socket

        self.lookups.append(host)
        if host in self._answers:
            queue = self._answers[host]
            return queue.pop(0) if len(queue) > 1 else list(queue[0])
        flags = 0 if host == "localhost" else socket.AI_NUMERICHOST
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=flags)
        return [info[4][0] for info in infos]


@pytest.fixture
def fake_dns(monkeypatch) -> FakeDns:
    """DNS for CRM webhook destinations, under the test's control (see FakeDns)."""
    dns = FakeDns()
    monkeypatch.setattr("contactcenter.crm_webhooks.targets.resolve_host", dns)
    return dns
