"""The SVG charts: scaled, labelled, and never a way to inject markup."""

import re

import pytest

from contactcenter.console.charts import Series, horizontal_bars, nice_ceiling, stacked_columns


@pytest.mark.parametrize(
    ("value", "ceiling"),
    [(0, 1), (1, 1), (2, 2), (3, 5), (7, 10), (11, 20), (20, 20), (21, 50), (501, 1000)],
)
def test_nice_ceiling(value, ceiling):
    assert nice_ceiling(value) == ceiling


def heights(svg: str, key: str) -> list[float]:
    return [
        float(h) for h in re.findall(rf'height="([\d.]+)" fill="[^"]+" data-series="{key}"', svg)
    ]


def test_stacked_columns_draw_one_rect_per_nonzero_value_scaled_to_the_axis():
    chart = stacked_columns(
        ["09:00", "10:00", "11:00"],
        [Series("done", "Done", "#0a0", [4, 0, 10]), Series("lost", "Lost", "#a00", [6, 2, 0])],
        title="Calls",
        height=124,  # a plot area 100 high: heights read as percentages of the top (10)
    )
    assert heights(chart, "done") == [40.0, 100.0]
    assert heights(chart, "lost") == [60.0, 20.0]
    assert 'data-total="22"' in chart
    assert "<title>10:00: 2 lost</title>" in chart
    assert re.search(r'data-series="done"><i style="background:#0a0"></i>Done <b>14</b>', chart)


def test_stacked_columns_of_nothing_still_draw_an_axis():
    chart = stacked_columns(["a", "b"], [Series("x", "X", "#000", [0, 0])], title="Empty")
    assert "<rect" not in chart
    assert chart.count("<line") == 3 and 'data-total="0"' in chart


def test_labels_and_titles_are_escaped():
    evil = '<script>alert("x")</script>'
    chart = stacked_columns([evil], [Series("k", evil, "#000", [1])], title=evil)
    bars = horizontal_bars([Series("k", evil, "#000", [1])], title=evil)
    for html in (chart, bars):
        assert "<script>" not in html
        assert "&lt;script&gt;" in html


def test_horizontal_bars_scale_to_the_largest_value():
    bars = horizontal_bars(
        [Series("a", "A", "#000", [5]), Series("b", "B", "#111", [10]),
         Series("c", "C", "#222", [0])],
        title="Outcomes", width=238,  # 100 px of bar room
    )  # fmt: skip
    widths = re.findall(r'<rect x="90" y="[\d.]+" width="([\d.]+)"', bars)
    assert widths == ["50.0", "100.0", "0.0"]
    assert re.findall(r'data-value="(\w)">(\d+)<', bars) == [("a", "5"), ("b", "10"), ("c", "0")]
