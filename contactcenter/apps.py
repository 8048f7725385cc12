from django.apps import AppConfig


class ContactCenterConfig(AppConfig):
    name = "contactcenter"
    verbose_name = "Contact center"

    def ready(self) -> None:
        from contactcenter import checks, metrics  # noqa: F401  (registers the checks)
        from contactcenter.crm_webhooks import receivers  # noqa: F401  (connects them)

        metrics.connect()
