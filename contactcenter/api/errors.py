"""One error body for the whole API: {"error": {"code", "message", "fields"}}."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from telephony.rules import CallRefused


def _fields(detail) -> dict[str, list[str]]:
    if isinstance(detail, dict):
        return {
            str(field): [str(m) for m in (messages if isinstance(messages, list) else [messages])]
            for field, messages in detail.items()
        }
    return {}


def api_exception_handler(exc, context):
    """DRF's handler (which marks an open request transaction for rollback), reshaped; Django
    ValidationErrors raised by services become 400s. Each write is one service transaction, so
    a failed write has already left nothing behind."""
    if isinstance(exc, CallRefused):
        # Well-formed, but the dialing rules refuse it now: the code names the rule.
        set_rollback()
        fields = {"to_number": [exc.refusal.message]}
        body = {"code": exc.refusal.rule.value, "message": exc.refusal.message, "fields": fields}
        return Response({"error": body}, status=status.HTTP_422_UNPROCESSABLE_ENTITY)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or None)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    if isinstance(exc, DjangoValidationError):
        detail = (
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
        exc = exceptions.ValidationError(detail)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    detail = response.data
    if isinstance(exc, exceptions.ValidationError):
        fields = _fields(detail) if isinstance(detail, dict) else {}
        general = fields.pop("non_field_errors", [])
        if isinstance(detail, list):
            general = [str(m) for m in detail]
        message = general[0] if general else "Some fields are not valid."
        body = {"code": "invalid", "message": message, "fields": fields}
        if len(general) > 1:
            body["messages"] = general
    else:
        message = detail.get("detail", str(exc)) if isinstance(detail, dict) else str(detail)
        body = {
            "code": getattr(exc, "default_code", "error"),
            "message": str(message),
            "fields": {},
        }
    response.data = {"error": body}
    return response


def error_response(code: str, message: str, status_code: int = status.HTTP_400_BAD_REQUEST):
    return Response({"error": {"code": code, "message": message, "fields": {}}}, status=status_code)
