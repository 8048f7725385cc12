"""The Celery queues. Tasks name their queue from this enum, so a worker can be given a subset."""

from enum import StrEnum

from kombu import Queue as KombuQueue


class Queue(StrEnum):
    DEFAULT = "default"  # housekeeping: heartbeat, sweepers
    CALLS = "calls"  # placing and hanging up calls: latency matters
    TRACKING = "tracking"  # status polling, transcripts, number sync
    DISPATCH = "dispatch"  # the campaign dispatcher
    WEBHOOKS = "webhooks"  # processing Agora's webhooks and delivering CRM webhooks

    @classmethod
    def kombu_queues(cls) -> tuple[KombuQueue, ...]:
        return tuple(KombuQueue(queue.value, routing_key=queue.value) for queue in cls)
