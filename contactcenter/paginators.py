"""Admin lists over tables that grow without end (calls, Agora's webhook events)."""

import json

from django.core.paginator import Paginator
from django.db import connection
from django.utils.functional import cached_property

# Above this many rows a list shows PostgreSQL's estimate of its size: counting 50,000 rows
# takes about as long as the rest of the page, a million ten times that, and nobody reads the
# last digits.
ESTIMATE_ABOVE = 50_000


class LargeTablePaginator(Paginator):
    """Counts exactly up to ESTIMATE_ABOVE rows; above, the planner's estimate (for the whole
    table, the statistics autovacuum and ANALYZE keep)."""

    @cached_property
    def count(self) -> int:
        estimate = _estimate(self.object_list)
        if estimate is not None and estimate > ESTIMATE_ABOVE:
            return estimate
        return super().count


def _estimate(queryset) -> int | None:
    query = getattr(queryset, "query", None)
    if query is None or connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        if not query.where:
            cursor.execute(
                "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                [query.model._meta.db_table],
            )
            row = cursor.fetchone()
            return row[0] if row else None
        sql, params = queryset.order_by().values("pk").query.sql_with_params()
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return int(plan[0]["Plan"]["Plan Rows"])
