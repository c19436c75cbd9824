"""Geometry of the bar charts the pages draw as inline SVG (no JavaScript, no external assets).

A chart is computed from already aggregated points; the template only places the shapes. Values
are plain numbers in one unit (one currency, or a count), so a chart never mixes currencies. A day
without data (``None``) gets no bar and says "no data" rather than being drawn as zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

CHART_WIDTH = 720
CHART_HEIGHT = 220
CHART_PAD_LEFT = 64
CHART_PAD_RIGHT = 12
CHART_PAD_TOP = 12
CHART_PAD_BOTTOM = 28
CHART_GRID_LINES = 4


@dataclass(frozen=True)
class ChartPoint:
    day: date
    value: Decimal | None  # None: the platform did not report the figure that day
    provisional: bool = False  # settling: a recent re-read changed the figure (dashboard/selectors/restatements.py)


@dataclass(frozen=True)
class ChartBar:
    day: date
    value: Decimal | None
    x: float
    y: float
    width: float
    height: float
    provisional: bool = False


@dataclass(frozen=True)
class ChartGridLine:
    """A horizontal grid line at height ``y`` labelled with the value it stands for."""

    value: Decimal
    y: float


@dataclass(frozen=True)
class ChartDateLabel:
    """A date written under the bars, centred on ``x``."""

    day: date
    x: float
    y: float


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    plot_left: int
    plot_right: int
    plot_top: int
    plot_bottom: int
    bars: list[ChartBar]
    grid_lines: list[ChartGridLine]
    date_labels: list[ChartDateLabel]
    unit: str = ""

    @property
    def has_provisional(self) -> bool:
        return any(bar.provisional for bar in self.bars)


def nice_ceiling(value: Decimal) -> Decimal:
    """The smallest of 1, 2, 2.5, 5 or 10 times a power of ten that is >= value (1 for zero)."""
    if value <= 0:
        return Decimal("1")
    exponent = value.adjusted()
    magnitude = Decimal(10) ** exponent
    for step in (Decimal("1"), Decimal("2"), Decimal("2.5"), Decimal("5"), Decimal("10")):
        if value <= step * magnitude:
            return step * magnitude
    return Decimal(10) * magnitude


def bar_chart(points: list[ChartPoint], *, unit: str = "") -> BarChart:
    """Bar positions for one value per day, scaled to a rounded maximum."""
    plot_left, plot_right = CHART_PAD_LEFT, CHART_WIDTH - CHART_PAD_RIGHT
    plot_top, plot_bottom = CHART_PAD_TOP, CHART_HEIGHT - CHART_PAD_BOTTOM
    plot_width, plot_height = plot_right - plot_left, plot_bottom - plot_top
    top_value = nice_ceiling(max((p.value for p in points if p.value is not None), default=Decimal("0")))

    slot = plot_width / max(1, len(points))
    bar_width = max(1.0, slot * 0.72)
    bars = []
    for index, point in enumerate(points):
        value = point.value
        height = float(value / top_value) * plot_height if value is not None and value > 0 else 0.0
        bars.append(
            ChartBar(
                day=point.day,
                value=point.value,
                x=round(plot_left + index * slot + (slot - bar_width) / 2, 2),
                y=round(plot_bottom - height, 2),
                width=round(bar_width, 2),
                height=round(height, 2),
                provisional=point.provisional,
            )
        )

    grid_lines = [
        ChartGridLine(
            value=top_value * step / CHART_GRID_LINES,
            y=round(plot_bottom - plot_height * step / CHART_GRID_LINES, 2),
        )
        for step in range(CHART_GRID_LINES + 1)
    ]
    label_every = max(1, round(len(points) / 6))
    date_labels = [
        ChartDateLabel(day=point.day, x=round(plot_left + index * slot + slot / 2, 2), y=CHART_HEIGHT - 8)
        for index, point in enumerate(points)
        if index % label_every == 0 or index == len(points) - 1
    ]
    if len(date_labels) >= 2 and date_labels[-1].x - date_labels[-2].x < slot * label_every * 0.6:
        # Keep the last day's label and drop its crowded neighbour.
        del date_labels[-2]
    return BarChart(
        width=CHART_WIDTH,
        height=CHART_HEIGHT,
        plot_left=plot_left,
        plot_right=plot_right,
        plot_top=plot_top,
        plot_bottom=plot_bottom,
        bars=bars,
        grid_lines=grid_lines,
        date_labels=date_labels,
        unit=unit,
    )
