"""The steering committee's charts: a CONSORT-style flow diagram and the cumulative recruitment
curve, as PNG (for /stats) and SVG (for slides), from plain data already worded by the caller.

matplotlib with the Agg backend and the object-oriented API (no pyplot, no global state),
imported lazily; renders are serialised by one lock (matplotlib is not thread-safe and
 the bot renders in a worker thread, `asyncio.to_thread`). Deterministic: no
software or date metadata in the files.
"""

from __future__ import annotations

import datetime as dt
import io
import textwrap
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

# Matplotlib (font cache, text layout cache) is not guaranteed thread-safe even with the
# object-oriented API; the bot renders in a worker thread, so renders are serialised.
_CHART_LOCK = threading.Lock()
_DPI = 100
_MAIN = "#dce6f2"
_MAIN_EDGE = "#4a6fa5"
_SIDE = "#f7e4e3"
_SIDE_EDGE = "#c0504d"
_FINAL = "#dff0e0"
_FINAL_EDGE = "#2e8b57"


@dataclass(frozen=True)
class FlowChart:
    """The diagram's words and numbers: stages top to bottom, and beside each stage the
    patients who stopped there (one line each, already worded: "Criteria not met: 3")."""

    title: str
    subtitle: str  # site and extraction date and time
    stages: Sequence[tuple[str, int]]  # (label, patients)
    exits: Sequence[Sequence[str]]  # per stage: the lines of its side box (empty: none)
    footer: str = ""


@dataclass(frozen=True)
class RecruitmentChart:
    title: str
    subtitle: str
    days: Sequence[dt.date]
    series: Sequence[tuple[str, Sequence[int]]]  # (label, cumulative counts per day)
    target: int | None
    target_label: str
    empty_label: str = "—"
    y_label: str = ""


def _text(**kwargs: Any) -> dict[str, Any]:
    return {"parse_math": False, **kwargs}  # a "$" in a label must not start TeX


def _wrap(line: str, width: int) -> str:
    return "\n".join(textwrap.wrap(line, width=width, max_lines=2, placeholder=" …")) or line


def _new_figure(size: tuple[float, float]) -> Figure:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=size, dpi=_DPI)
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Figure) -> tuple[bytes, bytes]:
    png, svg = io.BytesIO(), io.BytesIO()
    figure.savefig(png, format="png", dpi=_DPI, metadata={"Software": None})
    figure.savefig(svg, format="svg", metadata={"Date": None, "Creator": None})
    return png.getvalue(), svg.getvalue()


def _box(ax: Axes, x: float, y: float, text: str, face: str, edge: str, size: float,
         width: float, align: str = "center") -> None:  # fmt: skip
    ax.text(x, y, text, **_text(ha=align, va="center", fontsize=size, wrap=False,
            bbox={"boxstyle": "round,pad=0.5", "fc": face, "ec": edge, "lw": 1.4}))  # fmt: skip
    del width


def render_flow(chart: FlowChart) -> tuple[bytes, bytes]:
    """The CONSORT-style flow: stage boxes down the left, arrows between them, and beside each
    stage a box with the patients who stopped there. PNG 1000 × 1200 px, and SVG."""
    with _CHART_LOCK:
        figure = _new_figure((10.0, 12.0))
        ax = figure.add_axes((0.02, 0.05, 0.96, 0.86))
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.axis("off")
        figure.text(0.5, 0.975, chart.title, **_text(ha="center", va="top", fontsize=17,
                                                     fontweight="bold"))  # fmt: skip
        figure.text(0.5, 0.945, chart.subtitle, **_text(ha="center", va="top", fontsize=11,
                                                        color="#444444"))  # fmt: skip
        count = len(chart.stages)
        top, bottom = 0.95, 0.05
        step = (top - bottom) / max(count - 1, 1)
        main_x, side_x = 0.22, 0.50
        for index, (label, patients) in enumerate(chart.stages):
            y = top - index * step
            last = index == count - 1
            face, edge = (_FINAL, _FINAL_EDGE) if last else (_MAIN, _MAIN_EDGE)
            _box(ax, main_x, y, f"{_wrap(label, 22)}\nn = {patients}", face, edge, 12, 0.3)
            if not last:
                ax.annotate("", xy=(main_x, y - step + 0.045), xytext=(main_x, y - 0.045),
                            arrowprops={"arrowstyle": "-|>", "color": "#333333", "lw": 1.6})  # fmt: skip
            # The last stage is itself a final box: nothing beside it.
            lines = list(chart.exits[index]) if index < len(chart.exits) and not last else []
            if lines:
                # Beside the arrow that leaves this stage (or beside the last box).
                side_y = y - step / 2 if not last else y
                text = "\n".join(_wrap(line, 52) for line in lines[:14])
                if len(lines) > 14:
                    text += f"\n… (+{len(lines) - 14})"
                _box(ax, side_x, side_y, text, _SIDE, _SIDE_EDGE, 9.5, 0.45, align="left")
                start_y = side_y if not last else y
                ax.annotate("", xy=(side_x - 0.015, side_y), xytext=(main_x, start_y),
                            arrowprops={"arrowstyle": "-|>", "color": _SIDE_EDGE, "lw": 1.2,
                                        "shrinkA": 0 if not last else 60})  # fmt: skip
        if chart.footer:
            figure.text(0.5, 0.015, chart.footer, **_text(ha="center", va="bottom", fontsize=9,
                                                          color="#444444"))  # fmt: skip
        return _save(figure)


#: At most this many dates under the recruitment curve: each one whole, none repeated.
_MAX_DAY_TICKS = 8
#: Up to this many days, each day's count is marked with a dot.
_MAX_DOTS = 14


def _day_ticks(first: dt.date, end: dt.date) -> list[dt.date]:
    """Whole days from `first` to `end`, every `step` days so that at most _MAX_DAY_TICKS
    labels fit: each date appears once (no hourly ticks under a date-only label)."""
    span = (end - first).days
    step = max(1, -(-span // (_MAX_DAY_TICKS - 1)))
    return [first + dt.timedelta(days=offset) for offset in range(0, span + 1, step)]


def render_recruitment(chart: RecruitmentChart) -> tuple[bytes, bytes]:
    """Cumulative screened / eligible / injected patients per day, with the enrolment target
    as a dashed line. PNG 1000 × 600 px, and SVG. No data: an empty, labelled frame."""
    import matplotlib.dates as mdates
    import numpy as np
    from matplotlib.ticker import MaxNLocator

    colours = ("#4a6fa5", "#e69f00", "#2e8b57")
    with _CHART_LOCK:
        figure = _new_figure((10.0, 6.0))
        figure.subplots_adjust(left=0.08, right=0.94, top=0.78, bottom=0.1)
        ax = figure.add_subplot()
        figure.text(0.5, 0.965, chart.title, **_text(ha="center", va="top", fontsize=16,
                                                     fontweight="bold"))  # fmt: skip
        figure.text(0.5, 0.905, chart.subtitle, **_text(ha="center", va="top", fontsize=11,
                                                        color="#444444"))  # fmt: skip
        top = max([chart.target or 0, *(max(v, default=0) for _, v in chart.series)]) or 1
        if chart.days:
            # Each day's count holds until the next day: the last day is drawn to its end, so
            # one day of data (every screening on the same day) is a visible line, not a point.
            first, last = chart.days[0], chart.days[-1]
            edges = [*chart.days, last + dt.timedelta(days=1)]
            days = np.asarray(edges, dtype="datetime64[D]")  # dates, as matplotlib types them
            # Decreasing widths: a series equal to the one before it (every screened patient
            # eligible) still shows, as a thinner line inside the thicker one.
            widths = (6.5, 3.2, 1.4)
            for (label, values), colour, width in zip(chart.series, colours, widths, strict=False):
                counts = [*values, values[-1]] if values else [0] * len(edges)
                # A dot on each day while the days are few (one day is then a dot and a line).
                dots = list(range(len(values))) if len(values) <= _MAX_DOTS else []
                ax.step(days, counts, where="post", color=colour, lw=width, marker="o",
                        markevery=dots, markersize=width + 2,
                        label=f"{label} ({values[-1] if values else 0})")  # fmt: skip
            # A day's label under the middle of its step (noon): the day it covers.
            ticks = _day_ticks(first, last)
            ax.set_xticks([mdates.date2num(day) + 0.5 for day in ticks])
            ax.set_xticklabels([day.strftime("%d/%m/%Y") for day in ticks],
                               **_text(fontsize=9))  # fmt: skip
            ax.set_xlim(mdates.date2num(first) - 0.25, mdates.date2num(last) + 1.25)
        else:
            ax.text(0.5, 0.5, chart.empty_label, transform=ax.transAxes,
                    **_text(ha="center", va="center", fontsize=14, color="#777777"))  # fmt: skip
            ax.set_xticks([])
        if chart.target:
            ax.axhline(chart.target, color="#c0504d", ls="--", lw=1.5,
                       label=f"{chart.target_label} ({chart.target})")  # fmt: skip
        # A little below 0: a series still at zero is drawn above the axis, not hidden in it.
        ax.set_ylim(-0.02 * top - 0.15, top * 1.15 + 0.5)
        y_locator = ax.yaxis.get_major_locator()
        if isinstance(y_locator, MaxNLocator):  # the default AutoLocator: whole counts only
            y_locator.set_params(integer=True)
        if chart.y_label:
            ax.set_ylabel(chart.y_label, **_text(fontsize=11))
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        ax.grid(axis="y", color="#dddddd", lw=0.8)
        handles, _ = ax.get_legend_handles_labels()
        if handles:  # above the plot, under the subtitle: never over a line
            ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.01), ncol=len(handles),
                      frameon=False, fontsize=10)  # fmt: skip
        for tick in ax.get_xticklabels():
            tick.set_rotation(0)
        return _save(figure)
