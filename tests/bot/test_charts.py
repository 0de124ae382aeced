"""The recruitment curve (bot/views/charts.py) draws one day, two days and a month of data: the
series are visible lines (not a lone target line), and the dates under the axis are whole
days, each once, never cut at the edge (issue 25)."""

from __future__ import annotations

import datetime as dt
import io

import pytest

from bot.views.charts import _MAX_DAY_TICKS, RecruitmentChart, _day_ticks, render_recruitment

FIRST = dt.date(2026, 12, 6)
SCREENED_BLUE = (0x4A, 0x6F, 0xA5)


def chart(days: int) -> RecruitmentChart:
    dates = [FIRST + dt.timedelta(days=i) for i in range(days)]
    return RecruitmentChart(
        "LYSYME", "HMN", dates,
        [("screened", [3 + i for i in range(days)]), ("eligible", [1] * days),
         ("injected", [0] * days)],
        15, "target",
    )  # fmt: skip


def blue_pixels(png: bytes) -> int:
    from matplotlib.image import imread

    image = imread(io.BytesIO(png), format="png")
    height, width = image.shape[:2]
    count = 0
    for y in range(0, height, 2):
        for x in range(0, width, 2):
            r, g, b = (round(float(c) * 255) for c in image[y, x][:3])
            if (
                abs(r - SCREENED_BLUE[0]) < 12
                and abs(g - SCREENED_BLUE[1]) < 12
                and abs(b - SCREENED_BLUE[2]) < 12
            ):
                count += 1
    return count


@pytest.mark.parametrize("days", [1, 2, 30])
def test_the_curve_is_drawn_whatever_the_number_of_days(days: int) -> None:
    png, svg = render_recruitment(chart(days))
    assert png.startswith(b"\x89PNG")
    # The screened line is a line across the plot (a one-day series used to be one point,
    # invisible: only the target was drawn). The legend's own sample is about 15 pixels.
    assert blue_pixels(png) > 60, days
    assert b"<svg" in svg


@pytest.mark.parametrize("days", [1, 2, 3, 8, 9, 30, 100, 400])
def test_the_dates_under_the_axis_are_whole_days_each_once(days: int) -> None:
    last = FIRST + dt.timedelta(days=days - 1)
    ticks = _day_ticks(FIRST, last)
    labels = [d.strftime("%d/%m/%Y") for d in ticks]
    assert len(labels) == len(set(labels))  # "06/12, 06/12, 07/12, 07/12" no more
    assert 1 <= len(labels) <= _MAX_DAY_TICKS
    assert ticks[0] == FIRST and all(FIRST <= d <= last for d in ticks)


def test_no_date_label_is_cut_at_the_right_edge() -> None:
    """Every tick label lies inside the figure, the last one included ("08/12/202" no more)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    import bot.views.charts as charts

    made: list[Figure] = []
    original = charts._new_figure

    def spy(size: tuple[float, float]) -> Figure:
        figure = original(size)
        made.append(figure)
        return figure

    charts._new_figure = spy
    try:
        for days in (1, 2, 3, 30):
            render_recruitment(chart(days))
            figure = made[-1]
            canvas = figure.canvas
            assert isinstance(canvas, FigureCanvasAgg)
            renderer = canvas.get_renderer()
            width = figure.bbox.width
            (ax,) = figure.axes
            labels = [t for t in ax.get_xticklabels() if t.get_text()]
            assert labels, days
            for label in labels:
                box = label.get_window_extent(renderer)
                assert box.x0 >= 0 and box.x1 <= width, (days, label.get_text())
    finally:
        charts._new_figure = original
