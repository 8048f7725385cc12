"""An in-process simulator on a manual clock, our client wired to it, and a webhook catcher."""

import pytest

from telephony.agora import AgoraClient, AgoraConfig
from telephony.simulator import ManualClock, Simulator, SimulatorConfig, sim_transport
from tests.support.simulator import (
    APP_CERTIFICATE,
    APP_ID,
    CALLER,
    CUSTOMER_ID,
    CUSTOMER_SECRET,
    WEBHOOK_SECRET,
    WEBHOOK_URL,
    WebhookCatcher,
    import_number,
)


@pytest.fixture
def catcher() -> WebhookCatcher:
    return WebhookCatcher()


@pytest.fixture
def make_sim(catcher):
    def make(**overrides) -> Simulator:
        values = {
            "app_id": APP_ID,
            "customer_id": CUSTOMER_ID,
            "customer_secret": CUSTOMER_SECRET,
            "app_certificate": APP_CERTIFICATE,
            "webhook_url": WEBHOOK_URL,
            "webhook_secret": WEBHOOK_SECRET,
            **overrides,
        }
        return Simulator(SimulatorConfig(**values), clock=ManualClock(), webhook_sender=catcher)

    return make


@pytest.fixture
def sim(make_sim) -> Simulator:
    return make_sim()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make_client(sleeps):
    clients = []

    def make(simulator: Simulator, **overrides) -> AgoraClient:
        values = {
            "app_id": APP_ID,
            "customer_id": CUSTOMER_ID,
            "customer_secret": CUSTOMER_SECRET,
            "app_certificate": APP_CERTIFICATE,
            "base_url": "http://simulator.test",
            **overrides,
        }
        client = AgoraClient(
            AgoraConfig(**values), transport=sim_transport(simulator), sleep=sleeps.append
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def client(make_client, sim) -> AgoraClient:
    return make_client(sim)


@pytest.fixture
def caller(client) -> str:
    import_number(client)
    return CALLER
