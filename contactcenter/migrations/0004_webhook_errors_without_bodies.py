"""Stored delivery errors kept up to 300 characters of the receiver's answer ("HTTP 500: <body>")
or an exception's text (which may quote it): reduce them to the short reasons of ours that new
attempts store, so that no internal service's reply stays readable through the API or admin."""

from http import HTTPStatus

from django.db import migrations
from django.db.models import Value
from django.db.models.functions import Concat, Left, StrIndex


def _status_reason(status_code: int) -> str:
    try:
        return f"HTTP {status_code} {HTTPStatus(status_code).phrase}"
    except ValueError:
        return f"HTTP {status_code}"


def _scrub(queryset, *, error: str, status_code: str) -> None:
    answered = queryset.filter(**{f"{status_code}__isnull": False, f"{error}__startswith": "HTTP "})
    for code in answered.values_list(status_code, flat=True).distinct():
        answered.filter(**{status_code: code}).update(**{error: _status_reason(code)})
    # "ConnectError: <message>" -> "request failed (ConnectError)"; timeouts never had a body.
    raised = (
        queryset.filter(**{f"{status_code}__isnull": True, f"{error}__contains": ": "})
        .exclude(**{f"{error}__startswith": "timeout"})
        .exclude(**{f"{error}__startswith": "refused: "})
    )
    raised.update(
        **{error: Concat(Value("request failed ("), Left(error, StrIndex(error, Value(":")) - 1),
                         Value(")"))}
    )


def scrub_errors(apps, schema_editor):
    _scrub(apps.get_model("contactcenter", "WebhookDeliveryAttempt").objects,
           error="error", status_code="status_code")
    _scrub(apps.get_model("contactcenter", "WebhookDelivery").objects,
           error="last_error", status_code="last_status_code")


class Migration(migrations.Migration):
    dependencies = [("contactcenter", "0003_webhook_destination_rules")]

    operations = [migrations.RunPython(scrub_errors, migrations.RunPython.noop)]
