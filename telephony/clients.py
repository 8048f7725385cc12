"""The process-wide Agora client, built from settings; tests swap in one of their own."""

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings

from telephony.agora import AgoraClient, AgoraConfig

_lock = threading.Lock()
_client: AgoraClient | None = None
_client_pid: int | None = None
_override: AgoraClient | None = None


def agora_client() -> AgoraClient:
    """The client for this process (a forked worker builds its own: sockets are not shared)."""
    global _client, _client_pid
    if _override is not None:
        return _override
    with _lock:
        if _client is None or _client_pid != os.getpid():
            _client = AgoraClient(AgoraConfig.from_mapping(settings))
            _client_pid = os.getpid()
        return _client


@contextmanager
def use_agora_client(client: AgoraClient) -> Iterator[AgoraClient]:
    """Make every service in this process use `client` (tests: one wired to the simulator)."""
    global _override
    previous, _override = _override, client
    try:
        yield client
    finally:
        _override = previous
