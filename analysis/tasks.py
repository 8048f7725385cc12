"""Celery entry points for call analysis: thin, take ids, call services."""

import logging

from celery import shared_task
from django.core.exceptions import ValidationError

from analysis.services import call_analyze, transcript_wait_seconds
from telephony.models import Call

logger = logging.getLogger(__name__)


@shared_task(name="analysis.analyze_call", soft_time_limit=60, time_limit=120, acks_late=True)
def analyze_call(call_id: str) -> str:
    try:
        if wait := transcript_wait_seconds(call_id=call_id):
            analyze_call.apply_async((call_id,), countdown=wait)
            return "waiting for the transcript"
        return call_analyze(call_id=call_id).disposition
    except Call.DoesNotExist:
        return "missing"
    except ValidationError as error:
        logger.info("call %s: not analysed: %s", call_id, " ".join(error.messages))
        return "not analysed"
