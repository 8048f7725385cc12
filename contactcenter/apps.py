from django.apps import AppConfig


class ContactCenterConfig(AppConfig):
    name = "contactcenter"
    verbose_name = "Contact center"

    def ready(self) -> None:
        from contactcenter import (  # noqa: F401  (connect the signal receivers, register checks)
            checks,
            receivers,
        )
