"""The operator dashboard's chart of the last hour, drawn on the server as inline SVG (no script, no library).

``flow_chart`` turns the minutes of ``ReliabilityRepository.flow_per_minute`` into what ``ops_figures.html.j2``
draws: one line per series (consumed, published) told apart by their dash as well as their colour, the axes' ticks
and the busiest minute (for the chart's summary). The figures themselves are also a table on the page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from shared.repository import FlowMinute

# The drawing's coordinates (the SVG's viewBox); it scales to its box's width.
WIDTH = 640
HEIGHT = 230
# Room for the axes' labels: the y axis's numbers on the left, the times below.
LEFT = 56
RIGHT = 16
TOP = 12
BOTTOM = 44
# A time tick every quarter of an hour.
TICK_MINUTES = 15


@dataclass(frozen=True)
class Tick:
    at: float  # the x (time axis) or y (count axis) coordinate
    label: str


@dataclass(frozen=True)
class Line:
    key: str  # the series's word key (shared/web/i18n.py)
    points: str  # SVG polyline points
    total: int
    css: str  # its class in the template (stroke colour and dash)


@dataclass(frozen=True)
class FlowChart:
    minutes: Sequence[FlowMinute]
    lines: Sequence[Line]
    x_ticks: Sequence[Tick]
    y_ticks: Sequence[Tick]
    busiest: FlowMinute | None  # the minute with the most events (consumed + published), None when all are 0
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    top: int = TOP
    bottom: int = HEIGHT - BOTTOM

    @property
    def consumed(self) -> int:
        return sum(m.consumed for m in self.minutes)

    @property
    def published(self) -> int:
        return sum(m.published for m in self.minutes)


def nice_ceiling(peak: int) -> int:
    """The y axis's top: the smallest of 1, 2, 4, 6, 10, 20, 40, 60, 100 … at least ``peak`` (halves are whole)."""
    scale = 1
    while True:
        for step in (1, 2, 4, 6):
            if step * scale >= peak and (step * scale > 1 or peak <= 1):
                return step * scale
        scale *= 10


def flow_chart(minutes: Sequence[FlowMinute]) -> FlowChart:
    """The chart of ``minutes`` (oldest first, one per minute)."""
    peak = max((max(m.consumed, m.published) for m in minutes), default=0)
    top = nice_ceiling(peak)
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    step = plot_w / max(1, len(minutes) - 1)

    def x(i: int) -> float:
        return round(LEFT + i * step, 1)

    def y(n: int) -> float:
        return round(TOP + plot_h * (1 - n / top), 1)

    def points(values: Sequence[int]) -> str:
        return " ".join(f"{x(i)},{y(v)}" for i, v in enumerate(values))

    lines = [
        Line("flow_consumed", points([m.consumed for m in minutes]), sum(m.consumed for m in minutes), "consumed"),
        Line("flow_published", points([m.published for m in minutes]), sum(m.published for m in minutes), "published"),
    ]
    x_ticks = [
        Tick(x(i), m.minute.strftime("%H:%M")) for i, m in enumerate(minutes) if m.minute.minute % TICK_MINUTES == 0
    ]
    y_values = [0, top] if top == 1 else [0, top // 2, top]
    y_ticks = [Tick(y(v), str(v)) for v in y_values]
    busiest = max(minutes, key=lambda m: m.consumed + m.published, default=None)
    if busiest is not None and busiest.consumed + busiest.published == 0:
        busiest = None
    return FlowChart(minutes=minutes, lines=lines, x_ticks=x_ticks, y_ticks=y_ticks, busiest=busiest)
