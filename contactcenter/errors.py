"""Error reporting to Sentry (or a Sentry-compatible service such as GlitchTip), only when
SENTRY_DSN is set: unhandled errors of web requests and Celery tasks, and lines logged at ERROR.
Nothing is sent otherwise.

What leaves is scrubbed as the logs are (telephony.agora.redaction): values under secret-named
keys masked, registered secrets and credential-shaped strings replaced, in every part of the
event (messages, breadcrumbs, request data, tags); no cookies, user data or local variables.
"""

from typing import Any

from telephony.agora.redaction import redact


def scrubbed(event: dict[str, Any], _hint: dict[str, Any] | None = None) -> dict[str, Any]:
    """Sentry's before_send and before_breadcrumb: the event with its secrets removed."""
    return redact(event)


def init_error_reporting(
    dsn: str, *, environment: str = "", release: str = "", transport: Any = None
) -> bool:
    """Start reporting to `dsn` (nothing when it is empty); whether it started. `transport`:
    where events go instead of the network (tests)."""
    if not dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    options: dict[str, Any] = {
        "dsn": dsn,
        "environment": environment or None,
        "release": release or None,
        "integrations": [DjangoIntegration(), CeleryIntegration()],
        # Sentry's default sends no cookies or user data (personal data off); locals neither.
        "include_local_variables": False,
        "before_send": scrubbed,
        "before_breadcrumb": scrubbed,
        "traces_sample_rate": 0.0,
    }
    if transport is not None:
        options["transport"] = transport
    sentry_sdk.init(**options)
    return True
