"""bulk_update_rows: many rows' fields in one statement, each value as its field stores it."""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contactcenter.bulk import bulk_update_rows
from telephony.models import Call
from telephony.services.calls import call_create
from telephony.states import CallStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def calls(imported_caller, agent_profile) -> list[Call]:
    return [
        call_create(
            to_number=f"+1415555{number:04d}",
            caller_id=imported_caller,
            agent_profile=agent_profile,
            variables={"first_name": "Ada"},
        )
        for number in range(200, 203)
    ]


def test_each_row_gets_its_own_values_of_every_type_in_one_statement(calls):
    untouched = Call.objects.get(pk=calls[2].pk)
    first, second = calls[0], calls[1]
    first.status, first.placement_attempts = CallStatus.DIALING, 3
    first.dialed_at = datetime(2026, 11, 25, 18, 0, 1, 250000, tzinfo=UTC)
    first.variables = {"first_name": "Grace", "nested": {"list": [1, 2]}}
    second.status, second.placement_attempts, second.dialed_at = CallStatus.FAILED, 0, None
    second.agent_id, second.last_error = "agent-42", 'it\'s "quoted"; DROP TABLE x; --'
    fields = ["status", "placement_attempts", "dialed_at", "variables", "agent_id", "last_error"]

    def values(call: Call) -> list:
        return [getattr(call, name) for name in fields]

    with CaptureQueriesContext(connection) as captured:
        assert bulk_update_rows([first, second], fields) == 2

    assert len(captured) == 1
    for call in (first, second):
        assert values(Call.objects.get(pk=call.pk)) == values(call)
    assert values(Call.objects.get(pk=untouched.pk)) == values(untouched)


def test_nothing_to_update_sends_nothing():
    with CaptureQueriesContext(connection) as captured:
        assert bulk_update_rows([], ["status"]) == 0
    assert len(captured) == 0
