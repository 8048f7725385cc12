"""Small server-side SVG charts for the staff console.

No charting library, no CDN, no build step: each chart is an inline <svg> made here, so pages
work offline and render the same with or without JavaScript. Every label and value goes through
`format_html`, so nothing from the data can become markup.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from telephony.services.stats import OUTCOME_GROUPS, CallHistogram, CallSummary

if TYPE_CHECKING:
    from campaigns.services.answer_rates import AnswerRates

AXIS_COLOR = "#9ca3af"
EMPTY_CELL = '<td class="heat-none"></td>'
TEXT_STYLE = "font:10px system-ui,sans-serif;fill:currentColor"


@dataclass(frozen=True)
class Series:
    key: str
    label: str
    color: str
    values: Sequence[int]


def nice_ceiling(value: float) -> int:
    """The smallest of 1, 2, 5 x 10^k at or above `value` (an axis's top)."""
    if value <= 1:
        return 1
    magnitude = 1
    while True:
        for step in (1, 2, 5):
            if step * magnitude >= value:
                return step * magnitude
        magnitude *= 10


def legend(series: Sequence[Series], *, totals: bool = True) -> SafeString:
    return format_html_join(
        "",
        '<span class="chart-key" data-series="{}"><i style="background:{}"></i>{}{}</span>',
        (
            (s.key, s.color, s.label, format_html(" <b>{}</b>", sum(s.values)) if totals else "")
            for s in series
        ),
    )


def stacked_columns(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    width: int = 720,
    height: int = 180,
    label_every: int | None = None,
    tooltips: Sequence[str] | None = None,
) -> SafeString:
    """Columns (one per label) stacked by series, with a y axis and a legend underneath.
    `tooltips` name each column in its hover text (default: its label)."""
    left, bottom, top = 34, 18, 6
    plot_w, plot_h = width - left - 4, height - bottom - top
    count = max(1, len(labels))
    totals = [sum(s.values[i] for s in series) for i in range(len(labels))]
    y_max = nice_ceiling(max(totals, default=0))
    slot = plot_w / count
    bar_w = max(1.0, slot * 0.8)
    label_every = label_every or max(1, -(-count // 12))

    parts: list[str] = []
    for tick in (0, y_max / 2, y_max):
        y = top + plot_h - plot_h * tick / y_max
        parts.append(
            format_html(
                '<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="{}" stroke-width="{}"/>'
                '<text x="{}" y="{}" text-anchor="end" style="{}">{}</text>',
                left,
                width - 4,
                f"{y:.1f}",
                f"{y:.1f}",
                AXIS_COLOR,
                1 if tick == 0 else 0.3,
                left - 4,
                f"{y + 3:.1f}",
                TEXT_STYLE,
                f"{tick:g}",
            )
        )
    tooltips = tooltips or labels
    for index, label in enumerate(labels):
        x = left + index * slot + (slot - bar_w) / 2
        y = top + plot_h
        for s in series:
            value = s.values[index]
            if not value:
                continue
            h = plot_h * value / y_max
            y -= h
            parts.append(
                format_html(
                    '<rect x="{}" y="{}" width="{}" height="{}" fill="{}" data-series="{}">'
                    "<title>{}: {} {}</title></rect>",
                    f"{x:.1f}",
                    f"{y:.1f}",
                    f"{bar_w:.1f}",
                    f"{h:.1f}",
                    s.color,
                    s.key,
                    tooltips[index],
                    value,
                    s.label.lower(),
                )
            )
        if index % label_every == 0:
            parts.append(
                format_html(
                    '<text x="{}" y="{}" text-anchor="middle" style="{}">{}</text>',
                    f"{left + index * slot + slot / 2:.1f}",
                    height - 4,
                    TEXT_STYLE,
                    label,
                )
            )
    svg = format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {} {}" width="100%" '
        'role="img" aria-label="{}" class="chart-svg">{}</svg>',
        width,
        height,
        title,
        mark_safe("".join(parts)),  # noqa: S308 - each part was built by format_html
    )
    return format_html(
        '<figure class="chart" data-total="{}">{}<figcaption class="chart-legend">{}'
        "</figcaption></figure>",
        sum(totals),
        svg,
        legend(series),
    )


def horizontal_bars(series: Sequence[Series], *, title: str, width: int = 360) -> SafeString:
    """One bar per series (its first value), scaled to the largest, with the count beside it."""
    row_h, label_w, number_w = 20, 90, 48
    bar_room = width - label_w - number_w
    top = max((s.values[0] for s in series), default=0) or 1
    parts = []
    for index, s in enumerate(series):
        value = s.values[0]
        y = index * row_h
        parts.append(
            format_html(
                '<text x="{}" y="{}" text-anchor="end" style="{}">{}</text>'
                '<rect x="{}" y="{}" width="{}" height="{}" rx="2" fill="{}" data-series="{}">'
                "<title>{}: {}</title></rect>"
                '<text x="{}" y="{}" style="{}" data-value="{}">{}</text>',
                label_w - 6,
                y + 14,
                TEXT_STYLE,
                s.label,
                label_w,
                y + 4,
                f"{bar_room * value / top:.1f}",
                row_h - 8,
                s.color,
                s.key,
                s.label,
                value,
                label_w + bar_room * value / top + 4,
                y + 14,
                TEXT_STYLE,
                s.key,
                value,
            )
        )
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {} {}" width="{}" role="img" '
        'aria-label="{}" class="chart-svg">{}</svg>',
        width,
        row_h * len(series),
        width,
        title,
        mark_safe("".join(parts)),  # noqa: S308 - each part was built by format_html
    )


# -- call charts --------------------------------------------------------------------------------


def calls_over_time_chart(histogram: CallHistogram, *, title: str) -> SafeString:
    """Calls per bucket (local time), stacked by outcome."""
    starts = [timezone.localtime(start) for start in histogram.starts]
    daily = histogram.bucket >= timedelta(days=1)
    labels = [start.strftime("%b %d" if daily else "%H:%M") for start in starts]
    tooltips = [start.strftime("%Y-%m-%d" if daily else "%Y-%m-%d %H:%M") for start in starts]
    series = [
        Series(group.key, group.label, group.color, histogram.counts[group.key])
        for group in OUTCOME_GROUPS
    ]
    return stacked_columns(labels, series, title=title, tooltips=tooltips)


def outcome_bars(summary: CallSummary) -> SafeString:
    series = [
        Series(group.key, group.label, group.color, [summary.by_group[group.key]])
        for group in OUTCOME_GROUPS
    ]
    return horizontal_bars(series, title="Calls by outcome")


def answer_rate_heat_map(rates: "AnswerRates", *, title: str) -> SafeString:
    """A weekday x hour table of answer rates in the callee's local time: the deeper the green,
    the more of the calls a person answered; each cell says its figures on hover."""
    from campaigns.services.answer_rates import WEEKDAY_NAMES

    if not rates.calls:
        return format_html('<p class="heat-map-empty">{}: no calls rang through yet.</p>', title)
    hours = rates.hours
    head = format_html_join("", '<th scope="col">{}</th>', ((f"{hour:02d}",) for hour in hours))
    rows = []
    for weekday, name in enumerate(WEEKDAY_NAMES):
        cells = []
        for hour in hours:
            cell = rates.cells.get((weekday, hour))
            if cell is None:
                cells.append(EMPTY_CELL)
                continue
            percent = round(100 * cell.rate)
            cells.append(
                format_html(
                    '<td class="heat" data-cell="{}-{}" style="background:rgba(22,163,74,{})" '
                    'title="{} {}:00-{}:00: {} of {} answered ({}%)">{}</td>',
                    weekday, hour, f"{0.08 + 0.8 * cell.rate:.2f}", name, f"{hour:02d}",
                    f"{(hour + 1) % 24:02d}", cell.answered, cell.calls, percent, percent,
                )
            )  # fmt: skip
        joined = mark_safe("".join(cells))  # noqa: S308 - each cell was built by format_html
        rows.append(format_html('<tr><th scope="row">{}</th>{}</tr>', name, joined))
    best = rates.best()
    notes = [f"{rates.answered} of {rates.calls} calls answered by a person "
             f"({round(100 * rates.rate)}%)"]  # fmt: skip
    if best is not None:
        notes.append(f"best: {WEEKDAY_NAMES[best[0]]} {best[1]:02d}:00 "
                     f"({round(100 * rates.cells[best].rate)}%)")  # fmt: skip
    if rates.unplaced:
        notes.append(f"{rates.unplaced} calls to numbers without a known zone are not shown")
    return format_html(
        '<p class="heat-map-title">{}</p><div class="heat-map-wrap"><table class="heat-map">'
        '<thead><tr><th></th>{}</tr></thead><tbody>{}</tbody></table></div>'
        '<p class="heat-map-note">{}.</p>',
        title, head, mark_safe("".join(rows)),  # noqa: S308 - each row was built by format_html
        "; ".join(notes),
    )  # fmt: skip
