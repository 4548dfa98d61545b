"""The dashboard's chart of the last hour (shared/web/chart.py) and the process's memory of settled minutes
(shared/web/ops.FlowHistory), without a database: the SQL itself is tested in tests/integration/shared."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.repository import FlowMinute
from shared.web import chart
from shared.web.chart import flow_chart, nice_ceiling
from shared.web.ops import SETTLED_S, FlowHistory

T0 = datetime(2031, 5, 6, 12, 0, tzinfo=UTC)


def _hour(values: dict[int, tuple[int, int]]) -> list[FlowMinute]:
    """Sixty minutes from 11:01 to 12:00, quiet but for ``values`` (minute index → consumed, published)."""
    first = T0 - timedelta(minutes=59)
    return [FlowMinute(first + timedelta(minutes=i), *values.get(i, (0, 0))) for i in range(60)]


@pytest.mark.parametrize(
    ("peak", "top"), [(0, 1), (1, 1), (2, 2), (3, 4), (5, 6), (7, 10), (10, 10), (11, 20), (41, 60), (61, 100)]
)
def test_the_count_axis_ends_at_a_round_number_whose_half_is_whole(peak: int, top: int) -> None:
    assert nice_ceiling(peak) == top


def test_the_chart_draws_both_series_with_quarter_hour_ticks_and_names_the_busiest_minute() -> None:
    drawn = flow_chart(_hour({0: (1, 0), 30: (4, 3), 59: (2, 6)}))
    assert [line.key for line in drawn.lines] == ["flow_consumed", "flow_published"]
    assert [line.total for line in drawn.lines] == [7, 9]
    assert (drawn.consumed, drawn.published) == (7, 9)
    consumed = [tuple(map(float, p.split(","))) for p in drawn.lines[0].points.split()]
    assert len(consumed) == 60
    assert consumed[0] == (chart.LEFT, drawn.bottom - (drawn.bottom - drawn.top) / 6)  # 1 of 6
    assert consumed[-1][0] == drawn.right
    assert consumed[30][1] == round(drawn.bottom - (drawn.bottom - drawn.top) * 4 / 6, 1)
    assert [t.label for t in drawn.x_ticks] == ["11:15", "11:30", "11:45", "12:00"]
    assert [t.label for t in drawn.y_ticks] == ["0", "3", "6"]
    assert drawn.y_ticks[-1].at == drawn.top and drawn.y_ticks[0].at == drawn.bottom
    assert drawn.busiest == FlowMinute(T0, 2, 6)


def test_a_quiet_hour_has_no_busiest_minute_and_flat_lines() -> None:
    drawn = flow_chart(_hour({}))
    assert drawn.busiest is None
    assert {p.split(",")[1] for p in drawn.lines[0].points.split()} == {str(float(drawn.bottom))}
    assert [t.label for t in drawn.y_ticks] == ["0", "1"]


class _Repo:
    """Answers flow_per_minute from fixed counts and remembers what it was asked."""

    def __init__(self, counts: dict[datetime, tuple[int, int]]) -> None:
        self.counts = counts
        self.asked: list[tuple[datetime, datetime]] = []

    async def flow_per_minute(self, *, since: datetime, until: datetime) -> list[FlowMinute]:
        self.asked.append((since, until))
        minutes = []
        minute = since
        while minute < until:
            minutes.append(FlowMinute(minute, *self.counts.get(minute, (0, 0))))
            minute += timedelta(minutes=1)
        return minutes


async def test_settled_minutes_are_asked_for_once_and_the_recent_ones_every_time() -> None:
    repo = _Repo({T0 - timedelta(minutes=30): (3, 1), T0: (1, 1)})
    history = FlowHistory()
    now = T0 + timedelta(seconds=20)

    first = await history.last_hour(repo, now)  # type: ignore[arg-type]
    assert [m.minute for m in first] == [T0 - timedelta(minutes=59 - i) for i in range(60)]
    assert repo.asked == [(T0 - timedelta(minutes=59), now)]
    assert first[29] == FlowMinute(T0 - timedelta(minutes=30), 3, 1)

    # A minute later: the hour moves on by one; only the minutes not yet settled are read again.
    later = now + timedelta(minutes=1)
    repo.counts[T0 - timedelta(minutes=30)] = (99, 99)  # a settled minute does not change (and is not read again)
    second = await history.last_hour(repo, later)  # type: ignore[arg-type]
    settled_until = (now - timedelta(seconds=SETTLED_S)).replace(second=0)
    assert repo.asked[1] == (settled_until, later)
    assert [m.minute for m in second] == [T0 - timedelta(minutes=58 - i) for i in range(60)]
    assert second[28] == FlowMinute(T0 - timedelta(minutes=30), 3, 1)
    assert second[-2] == FlowMinute(T0, 1, 1)
