"""`Idempotency-Key`: a repeated request (same caller, same key) gets the first answer back for
24 hours and does nothing again. A different request under a used key is refused (422)."""

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.response import Response

from contactcenter.api.errors import error_response
from contactcenter.models import ApiKey, IdempotencyRecord

HEADER = "HTTP_IDEMPOTENCY_KEY"


def _caller(request: Request) -> dict:
    if isinstance(request.auth, ApiKey):
        return {"caller": f"key:{request.auth.pk}"}
    return {"caller": f"user:{request.user.pk}"}


def idempotent(request: Request, produce: Callable[[], Response]) -> Response:
    """Run `produce` once per Idempotency-Key (if the request has one)."""
    key = request.META.get(HEADER, "").strip()
    if not key:
        return produce()
    if len(key) > 200:
        return error_response("invalid", "Idempotency-Key: at most 200 characters.")
    caller = _caller(request)
    fingerprint = hashlib.sha256(
        json.dumps(request.data, sort_keys=True, default=str).encode()
    ).hexdigest()
    fresh = timezone.now() - timedelta(seconds=settings.IDEMPOTENCY_TTL_SECONDS)
    IdempotencyRecord.objects.filter(**caller, key=key, created_at__lt=fresh).delete()
    try:
        with transaction.atomic():
            record = IdempotencyRecord.objects.create(
                **caller, key=key, method=request.method, path=request.path,
                request_hash=fingerprint,
            )  # fmt: skip
    except IntegrityError:
        record = IdempotencyRecord.objects.get(**caller, key=key)
        if record.request_hash != fingerprint or record.path != request.path:
            return error_response(
                "idempotency_key_reused",
                "This Idempotency-Key was used for a different request.",
                status_code=422,
            )
        if record.status_code is None:
            return error_response(
                "idempotency_key_in_use",
                "A request with this Idempotency-Key is still being processed.",
                status_code=409,
            )
        return Response(
            record.body, status=record.status_code, headers={"Idempotent-Replay": "true"}
        )
    try:
        response = produce()
    except BaseException:
        record.delete()  # no result to replay: the client may send it again
        raise
    if response.status_code < 500:
        record.status_code = response.status_code
        record.body = response.data
        record.save(update_fields=["status_code", "body"])
    else:
        record.delete()  # a server error is not a result: the client may try again
    return response
