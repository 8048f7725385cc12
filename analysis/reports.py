"""Analysed calls by disposition and the success rate: the campaign page's table and the
dashboard's (one grouped query each)."""

from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet

from analysis.models import CallAnalysis


@dataclass(frozen=True)
class Dispositions:
    counts: list[tuple[str, int]]  # (disposition, calls), most first
    analysed: int
    successes: int

    @property
    def success_rate(self) -> float | None:
        return self.successes / self.analysed if self.analysed else None

    def rows(self) -> list[tuple[str, str, str]]:
        """(key, label, shown value): each disposition, then the success rate."""
        rows = [(name, name.replace("_", " "), str(calls)) for name, calls in self.counts]
        if self.analysed:
            rows.append(("success_rate", "success rate", f"{round(100 * self.success_rate)}%"))
        return rows


def dispositions(analyses: QuerySet[CallAnalysis]) -> Dispositions:
    counts = list(
        analyses.order_by()
        .values("disposition")
        .annotate(calls=Count("id"), successes=Count("id", filter=Q(success=True)))
        .order_by("-calls", "disposition")
    )
    return Dispositions(
        counts=[(row["disposition"], row["calls"]) for row in counts],
        analysed=sum(row["calls"] for row in counts),
        successes=sum(row["successes"] for row in counts),
    )
