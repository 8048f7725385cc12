from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = "Campaigns"

    def ready(self) -> None:
        from campaigns import receivers  # noqa: F401  (connects them)
        from campaigns.services import dialing_rules
        from campaigns.services.campaigns import running_campaign_guard
        from telephony.services.numbers import register_delete_guard

        dialing_rules.register()
        register_delete_guard(running_campaign_guard)
