"""The product's Prometheus metrics, correct however many web, worker and beat processes run on
however many machines.

Two kinds:
- what happened (counters and histograms: calls placed and ended, placement latency, webhook
  lag, dispatcher ticks, Agora requests, CRM delivery failures, analyses): each process adds to
  them in Redis (`count`, `observe`; one pipelined round trip per batch, never on the webhook
  receiver's path), and a scrape reads the totals. Redis emptied (a restart without
  persistence) starts them again from zero, which Prometheus reads as a counter reset;
- what is (gauges: live calls and the cap, Celery's queue depths, webhook events waiting):
  read from PostgreSQL and Redis at scrape time.

Without Redis (`make run`'s zero-setup default) nothing is counted: the gauges remain. Metrics
never break what they measure: a Redis error drops the figure and is logged at debug level.
"""

import json
import logging
import os
from collections.abc import Iterable, Iterator
from functools import cache

from django.conf import settings
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

__all__ = ["CONTENT_TYPE_LATEST", "count", "observe", "scrape"]

logger = logging.getLogger(__name__)

PREFIX = "contactcenter_"
KEY = "metrics:"  # Redis hashes, one per metric: field = labels as JSON


# name: (help, label names, bucket upper bounds in seconds)
HISTOGRAMS: dict[str, tuple[str, tuple[str, ...], tuple[float, ...]]] = {
    "call_placement_seconds": (
        "From a call's booking (queued, or its scheduled time) to its request to Agora.",
        (),
        (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300),
    ),
    "webhook_lag_seconds": (
        "From an Agora webhook's arrival to its processing.",
        (),
        (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    ),
    "dispatch_tick_seconds": (
        "One dispatcher tick over every running campaign.",
        (),
        (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
    ),
}
# name: (help, label names)
COUNTERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "calls_placed": ("Calls Agora accepted.", ()),
    "calls_ended": ("Calls ended, by their final status.", ("status",)),
    "agora_requests": (
        "Requests to Agora's API, by operation and answer (an HTTP status, or the transport "
        "error's name).",
        ("operation", "status"),
    ),
    "crm_delivery_failures": ("CRM webhook delivery attempts that failed.", ()),
    "analyses": ("Post-call analyses made, by analyzer.", ("analyzer",)),
}


def _redis():
    """This process's Redis client for the totals (None without REDIS_URL)."""
    return _client(settings.REDIS_URL) if settings.REDIS_URL else None


@cache
def _client(url: str):
    """One client (and connection pool) per process and URL, kept between scrapes."""
    import redis

    return redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)


def _labels(names: tuple[str, ...], labels: dict[str, object]) -> str:
    unknown = set(labels) - set(names)
    if unknown:
        raise ValueError(f"unknown labels {sorted(unknown)}")
    return json.dumps([str(labels.get(name, "")) for name in names])


def count(name: str, amount: int = 1, **labels: object) -> None:
    """Add `amount` to the counter `name` (one of COUNTERS)."""
    _, names = COUNTERS[name]
    key = _labels(names, labels)  # a wrong label is the caller's bug: raised, not swallowed
    _write(lambda pipe: pipe.hincrby(KEY + name, key, amount))


def observe(name: str, values: Iterable[float], **labels: object) -> None:
    """Add observations (seconds) to the histogram `name` (one of HISTOGRAMS), in one round
    trip: per bucket, how many fell in it (cumulated at scrape), their count and their sum."""
    values = [max(0.0, float(value)) for value in values]
    if not values:
        return
    _, names, bounds = HISTOGRAMS[name]
    key = _labels(names, labels)
    per_bucket: dict[str, int] = {}
    for value in values:
        bucket = next((str(b) for b in bounds if value <= b), "+Inf")
        per_bucket[bucket] = per_bucket.get(bucket, 0) + 1

    def write(pipe) -> None:
        for bucket, amount in per_bucket.items():
            pipe.hincrby(KEY + name, f"{key}|{bucket}", amount)
        pipe.hincrbyfloat(KEY + name, f"{key}|sum", sum(values))

    _write(write)


def _write(commands) -> None:
    client = _redis()
    if client is None:
        return
    try:
        pipe = client.pipeline(transaction=False)
        commands(pipe)
        pipe.execute()
    except Exception as error:  # metrics never break what they measure
        logger.debug("metrics not recorded: %s", error)


def _read(name: str) -> dict[str, str]:
    client = _redis()
    if client is None:
        return {}
    try:
        return {k.decode(): v.decode() for k, v in client.hgetall(KEY + name).items()}
    except Exception as error:
        logger.warning("metrics: could not read %s: %s", name, error)
        return {}


class ProductCollector(Collector):
    """What a scrape of /metrics reads (prometheus_client calls `collect`)."""

    def collect(self) -> Iterator:
        yield from self._counters()
        yield from self._histograms()
        yield from self._gauges()
        yield from _database_stats()

    def _counters(self) -> Iterator:
        for name, (help_text, names) in COUNTERS.items():
            family = CounterMetricFamily(PREFIX + name, help_text, labels=names)
            for labels, value in _read(name).items():
                family.add_metric(json.loads(labels), float(value))
            yield family

    def _histograms(self) -> Iterator:
        for name, (help_text, names, bounds) in HISTOGRAMS.items():
            family = HistogramMetricFamily(PREFIX + name, help_text, labels=names)
            series: dict[str, dict[str, float]] = {}
            for field, value in _read(name).items():
                labels, _, part = field.rpartition("|")
                series.setdefault(labels, {})[part] = float(value)
            for labels, parts in series.items():
                cumulative, buckets = 0.0, []
                for bound in (*map(str, bounds), "+Inf"):
                    cumulative += parts.get(bound, 0.0)
                    label = bound if bound == "+Inf" else floatToGoString(float(bound))
                    buckets.append((label, cumulative))
                family.add_metric(json.loads(labels), buckets, parts.get("sum", 0.0))
            yield family

    def _gauges(self) -> Iterator:
        from telephony.models import WebhookEvent
        from telephony.services.capacity import live_call_count

        live = GaugeMetricFamily(PREFIX + "live_calls", "Calls live now (dialing to ended).")
        live.add_metric([], live_call_count())
        yield live
        cap = GaugeMetricFamily(
            PREFIX + "live_calls_cap",
            "The account's cap on live calls (AGORA_MAX_CONCURRENT_CALLS).",
        )
        cap.add_metric([], settings.AGORA_MAX_CONCURRENT_CALLS)
        yield cap
        waiting = GaugeMetricFamily(
            PREFIX + "webhook_events_waiting", "Agora webhook events stored, not yet processed."
        )
        waiting.add_metric(
            [],
            WebhookEvent.objects.filter(
                status__in=[WebhookEvent.Status.RECEIVED, WebhookEvent.Status.PROCESSING]
            ).count(),
        )
        yield waiting
        depths = self._queue_depths()
        if depths is not None:
            queues = GaugeMetricFamily(
                PREFIX + "celery_queue_depth", "Tasks waiting in each Celery queue.",
                labels=["queue"],
            )  # fmt: skip
            for queue, depth in depths.items():
                queues.add_metric([queue], depth)
            yield queues

    @staticmethod
    def _queue_depths() -> dict[str, int] | None:
        """Tasks waiting per queue, read from the Redis broker (kombu keeps a queue's tasks in a
        list of its name, and one per priority step beside it)."""
        if not settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
            return None
        from contactcenter.queues import Queue

        try:
            client = _client(settings.CELERY_BROKER_URL)
            with client.pipeline(transaction=False) as pipe:
                for queue in Queue:
                    for key in _priority_keys(queue.value):
                        pipe.llen(key)
                lengths = iter(pipe.execute())
            return {
                queue.value: sum(next(lengths) for _ in _priority_keys(queue.value))
                for queue in Queue
            }
        except Exception as error:
            logger.warning("metrics: could not read the queues: %s", error)
            return None


def _priority_keys(queue: str) -> list[str]:
    # kombu's Redis transport: priority steps 0, 3, 6, 9; step 0 is the queue's own name.
    return [queue] + [f"{queue}\x06\x16{step}" for step in (3, 6, 9)]


def _database_stats() -> Iterator:
    """PostgreSQL's own figures for our database (pg_stat_database, pg_stat_activity): the same
    whichever process is scraped."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT xact_commit, xact_rollback, deadlocks, blks_read, blks_hit, "
            "pg_database_size(datname) FROM pg_stat_database WHERE datname = current_database()"
        )
        commits, rollbacks, deadlocks, read, hit, size = cursor.fetchone()
        cursor.execute(
            "SELECT state, count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "GROUP BY state"
        )
        sessions = cursor.fetchall()
    for name, help_text, value in (
        ("db_transactions_committed", "Transactions committed (PostgreSQL).", commits),
        ("db_transactions_rolled_back", "Transactions rolled back (PostgreSQL).", rollbacks),
        ("db_deadlocks", "Deadlocks detected (PostgreSQL).", deadlocks),
        ("db_blocks_read", "Blocks read from disk (PostgreSQL).", read),
        ("db_blocks_hit", "Blocks found in PostgreSQL's buffer cache.", hit),
    ):
        family = CounterMetricFamily(PREFIX + name, help_text)
        family.add_metric([], float(value))
        yield family
    database_size = GaugeMetricFamily(PREFIX + "db_size_bytes", "The database's size on disk.")
    database_size.add_metric([], float(size))
    yield database_size
    connections = GaugeMetricFamily(
        PREFIX + "db_connections", "Sessions open on the database, by state.", labels=["state"]
    )
    for state, number in sessions:
        connections.add_metric([state or "unknown"], float(number))
    yield connections


def scrape() -> bytes:
    """The exposition text of a scrape: the product's figures and PostgreSQL's, and the HTTP
    figures of django-prometheus (of every process on this machine when
    PROMETHEUS_MULTIPROC_DIR is set, else of the process answering)."""
    product = CollectorRegistry(auto_describe=False)
    product.register(ProductCollector())
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        http = CollectorRegistry()
        multiprocess.MultiProcessCollector(http)
    else:
        http = REGISTRY
    return generate_latest(product) + generate_latest(http)


def connect() -> None:
    """Hear of what the other apps do (AppConfig.ready): calls ended, requests to Agora."""
    from telephony.agora.client import observe_requests
    from telephony.signals import call_ended

    call_ended.connect(_count_ended, dispatch_uid="metrics.calls_ended")
    observe_requests(_count_agora_request)


def _count_ended(sender, *, status: str, **_kwargs) -> None:
    count("calls_ended", status=status)


def _count_agora_request(operation: str, answer: str) -> None:
    count("agora_requests", operation=operation, status=answer)
