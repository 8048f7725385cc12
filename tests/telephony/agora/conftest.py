"""Fixtures for the Agora client tests: fake config, a recording sleep, deterministic jitter."""

import pytest

from telephony.agora import AgoraClient, AgoraConfig

from . import APP_CERTIFICATE, APP_ID, CUSTOMER_ID, CUSTOMER_SECRET


@pytest.fixture
def sleeps() -> list[float]:
    """Delays the client asked to sleep, in order (nothing really sleeps)."""
    return []


@pytest.fixture
def make_config():
    def make(**overrides) -> AgoraConfig:
        values = {
            "app_id": APP_ID,
            "customer_id": CUSTOMER_ID,
            "customer_secret": CUSTOMER_SECRET,
            "app_certificate": APP_CERTIFICATE,
        }
        values.update(overrides)
        return AgoraConfig(**values)

    return make


@pytest.fixture
def make_client(make_config, sleeps):
    clients: list[AgoraClient] = []

    def make(*, random=lambda: 1.0, **overrides) -> AgoraClient:
        client = AgoraClient(
            make_config(**overrides),
            sleep=sleeps.append,
            random=random,
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def client(make_client) -> AgoraClient:
    return make_client()
