"""Console tests: calls made directly in a given state and at a given time."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from telephony.models import Call
from telephony.states import CallStatus
from tests.support.factories import CallFactory


@pytest.fixture
def make_call(db, caller_number):
    def make(
        status: str = CallStatus.COMPLETED,
        *,
        created_at: datetime | None = None,
        talk_seconds: int | None = None,
        direction: str = Call.Direction.OUTBOUND,
    ) -> Call:
        created_at = created_at or timezone.now()
        answered = status in (CallStatus.ANSWERED, CallStatus.COMPLETED)
        call = CallFactory(
            status=status,
            direction=direction,
            caller_id=caller_number,
            agent_profile=None,
            answered_at=created_at + timedelta(seconds=5) if answered else None,
            duration_seconds=talk_seconds,
        )
        Call.objects.filter(pk=call.pk).update(created_at=created_at)  # auto_now_add
        call.created_at = created_at
        return call

    return make
