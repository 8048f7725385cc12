"""Admin lists of tables that grow without end count exactly, or estimate when large."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contactcenter import paginators
from contactcenter.paginators import LargeTablePaginator
from telephony.models import Call
from telephony.states import CallStatus
from tests.support.factories import CallFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def calls():
    for index in range(30):
        CallFactory(status=CallStatus.FAILED if index % 3 else CallStatus.COMPLETED)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE telephony_call")


def counted(queryset) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        count = LargeTablePaginator(queryset.order_by("-created_at"), 50).count
    return count, [query["sql"] for query in queries.captured_queries]


def test_a_list_under_the_threshold_is_counted_exactly(calls):
    count, sql = counted(Call.objects.filter(status=CallStatus.FAILED))
    assert count == 20
    assert any("COUNT(*)" in statement for statement in sql)


def test_a_large_list_shows_the_planners_estimate_without_counting(calls, monkeypatch):
    monkeypatch.setattr(paginators, "ESTIMATE_ABOVE", 10)

    whole, sql = counted(Call.objects.all())
    assert whole == 30  # the statistics ANALYZE keeps
    assert not any("COUNT(" in statement for statement in sql)

    failed, sql = counted(Call.objects.filter(status=CallStatus.FAILED))
    assert 10 < failed <= 30  # an estimate, not a count
    assert any(statement.startswith("EXPLAIN") for statement in sql)
    assert not any("COUNT(" in statement for statement in sql)
