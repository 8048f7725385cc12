"""CRM webhooks: signed notifications of our events (calls, campaigns, do-not-call) to the
subscribers' URLs, e.g. a CRM.

receivers (domain signals) -> events (what each event says) -> services (emit: one delivery per
subscription; deliver: claim -> send -> record, one attempt row each) -> tasks. targets decides
where a delivery may go; api and admin manage subscriptions and redeliver. See docs/webhooks.md.
"""
