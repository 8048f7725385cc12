"""The Celery queues, and which task goes on which: the one routing table (the settings read it).

A worker can be given a subset of the queues (`--queues calls,tracking`). The table names tasks
by their registered names rather than on each decorator because Celery deprecates the `queue`
task attribute (it stops working in Celery 6) in favour of `task_routes`;
tests/contactcenter/test_celery.py checks that every task has a row here and every row names a
task.
"""

from enum import StrEnum

from kombu import Queue as KombuQueue


class Queue(StrEnum):
    DEFAULT = "default"  # housekeeping: heartbeat, sweepers, imports
    CALLS = "calls"  # placing and hanging up calls: latency matters
    TRACKING = "tracking"  # status polling, transcripts, number sync
    DISPATCH = "dispatch"  # the campaign dispatcher
    WEBHOOKS = "webhooks"  # processing Agora's webhooks and delivering CRM webhooks
    ANALYSIS = "analysis"  # post-call analysis: never in the dialer's way

    @classmethod
    def kombu_queues(cls) -> tuple[KombuQueue, ...]:
        return tuple(KombuQueue(queue.value, routing_key=queue.value) for queue in cls)


TASK_QUEUES: dict[str, Queue] = {
    # contactcenter
    "contactcenter.heartbeat": Queue.DEFAULT,
    "contactcenter.prune_expired": Queue.DEFAULT,
    # telephony: calls
    "telephony.place_call": Queue.CALLS,
    "telephony.place_calls": Queue.CALLS,
    "telephony.hangup_call": Queue.CALLS,
    "telephony.poll_calls": Queue.TRACKING,
    "telephony.enforce_call_limits": Queue.TRACKING,
    "telephony.fetch_call_agent_data": Queue.TRACKING,
    "telephony.finalize_call_end": Queue.TRACKING,
    "telephony.recover_stuck_calls": Queue.DEFAULT,
    "telephony.place_scheduled_calls": Queue.CALLS,
    "telephony.check_voicemail": Queue.TRACKING,
    "telephony.leave_voicemail": Queue.CALLS,
    # telephony: numbers
    "telephony.push_phone_number": Queue.TRACKING,
    "telephony.sync_phone_numbers": Queue.TRACKING,
    # telephony: Agora's webhooks
    "telephony.process_webhook_event": Queue.WEBHOOKS,
    "telephony.process_webhook_events": Queue.WEBHOOKS,
    "telephony.sweep_webhook_events": Queue.WEBHOOKS,
    # campaigns
    "campaigns.dispatch": Queue.DISPATCH,
    "campaigns.dispatch_campaign": Queue.DISPATCH,
    "campaigns.record_call_outcome": Queue.DISPATCH,
    "campaigns.hang_up_campaign_calls": Queue.CALLS,
    "campaigns.import_contacts": Queue.DEFAULT,
    "campaigns.import_do_not_call": Queue.DEFAULT,
    "campaigns.review_caller_ids": Queue.DEFAULT,
    # analysis
    "analysis.analyze_call": Queue.ANALYSIS,
    # CRM webhooks (contactcenter/crm_webhooks; the names are older than the package)
    "contactcenter.deliver_webhook": Queue.WEBHOOKS,
    "contactcenter.retry_due_webhooks": Queue.WEBHOOKS,
}


def task_routes() -> dict[str, dict[str, str]]:
    """TASK_QUEUES in the form of Celery's `task_routes` setting."""
    return {name: {"queue": queue.value} for name, queue in TASK_QUEUES.items()}
