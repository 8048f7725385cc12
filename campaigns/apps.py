from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = "Campaigns"

    def ready(self) -> None:
        from campaigns.services import dialing_rules
        from campaigns.services.campaigns import running_campaign_guard
        from telephony.services.numbers import register_delete_guard
        from telephony.signals import call_ended

        dialing_rules.register()
        register_delete_guard(running_campaign_guard)
        call_ended.connect(_record_outcome, dispatch_uid="campaigns.record_call_outcome")


def _record_outcome(sender, call_id: str, status: str, **kwargs) -> None:
    # Sent after the call's end committed; the contact is moved on by a task (and, should
    # that be lost, by the dispatcher's sweep of finished calls).
    from campaigns.tasks import record_call_outcome

    record_call_outcome.delay(call_id)
