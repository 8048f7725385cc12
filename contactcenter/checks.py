"""Deployment checks of our own (`manage.py check --deploy`)."""

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def check_destination_policy(app_configs=None, **kwargs) -> list[Warning]:
    if settings.CALL_ALLOWED_COUNTRIES:
        return []
    return [
        Warning(
            "CALL_ALLOWED_COUNTRIES is not set: calls may go to the country of any outbound "
            "caller ID, so whoever may add one (API scope numbers:write, permission "
            "telephony.add_phonenumber) widens where calls may go.",
            hint="List the countries calls may go to, e.g. CALL_ALLOWED_COUNTRIES=US,CA.",
            id="contactcenter.W001",
        )
    ]
