"""Liveness of the moving parts: the heartbeat task records here who last ran it."""

import logging
import time
from typing import TypedDict

from django.core.cache import cache

logger = logging.getLogger(__name__)

HEARTBEAT_CACHE_KEY = "health:heartbeat"


class Heartbeat(TypedDict):
    worker: str
    source: str
    at: float


def heartbeat_record(*, worker: str, source: str) -> Heartbeat:
    """Log and remember that `worker` ran a heartbeat sent by `source` (beat, or a person)."""
    beat: Heartbeat = {"worker": worker, "source": source, "at": time.time()}
    cache.set(HEARTBEAT_CACHE_KEY, beat, timeout=None)
    logger.info("heartbeat: worker %s is alive (sent by %s)", worker, source)
    return beat


def heartbeat_last() -> Heartbeat | None:
    return cache.get(HEARTBEAT_CACHE_KEY)
