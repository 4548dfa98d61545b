"""The generated section of docs/PERFORMANCE.md and the profile's summary."""

from __future__ import annotations

from typing import Any

from bench import plot, report
from bench.run import top_frames


def _latency(p: float) -> dict[str, float]:
    return {"count": 10, "p50": p, "p95": p * 2, "p99": p * 3, "p99.9": p * 4, "mean": p}


def _step(rate: float, p: float, cpu: float) -> dict[str, Any]:
    return {
        "rate": rate,
        "latency_ms": {"hop1": _latency(p / 2), "hop2": _latency(p / 2), "end_to_end": _latency(p)},
        "cpu_s": {"intake": 1.0, "kafka": 0.5, "total": 1.5},
        "cpu_ms_per_case": cpu,
        "http": {"latency_ms": _latency(p / 3)},
    }


FIGURES: dict[str, Any] = {
    "when": "2026-11-24T20:00:00+00:00",
    "machine": {"cores": 2, "cpu": "A CPU", "load_average": [3.1, 2.0, 1.0]},
    "load_average_end": [3.5, 2.1, 1.0],
    "arguments": {"step_seconds": 6.0, "parts": ("floors", "events")},
    "event_floor": {
        "saturation": {"cases_per_s": 2000.0},
        "fractions": {f: _step(2000 * float(f), 20, 0.5) for f in ("0.25", "0.5", "0.9")},
    },
    "kipina_events": {
        "saturation": {"rate": 100.0, "sustained_per_s": 98.0, "overloaded_per_s": 80.0},
        "search": [
            {
                "verdict": {
                    "rate": 100.0,
                    "completions_per_s": 98.0,
                    "backlog_growth_per_s": 0.2,
                    "bounded": True,
                    "reason": "backlog grew 0.2/s",
                }
            },
            {
                "verdict": {
                    "rate": 150.0,
                    "completions_per_s": 80.0,
                    "backlog_growth_per_s": 70.0,
                    "bounded": False,
                    "reason": "backlog grew 70/s",
                }
            },
        ],
        "fractions": {f: _step(100 * float(f), 60, 10.0) for f in ("0.25", "0.5", "0.9")},
        "profile": {"profile": {"service": "review", "samples": 100, "top": [{"frame": "f (a.py:1)", "share": 0.5}]}},
        "rss_mib": {
            "idle": {"intake": 100.0},
            "under_load": {"intake": 110.0},
            "after": {"intake": 111.0},
            "soak_growth_mib_per_h": {},
            "soak_minutes": 0,
        },
    },
}


def test_the_section_replaces_only_what_lies_between_the_markers() -> None:
    page = f"# Title\n\nprose before\n\n{report.BEGIN}\nold figures\n{report.END}\n\nprose after\n"
    updated = report.replace_section(page, "new figures\n")
    assert "old figures" not in updated
    assert updated.startswith("# Title\n\nprose before\n\n")
    assert updated.endswith(f"{report.BEGIN}\nnew figures\n{report.END}\n\nprose after\n")
    assert report.replace_section(updated, "new figures\n") == updated  # idempotent


def test_a_page_without_markers_gets_the_section_appended() -> None:
    updated = report.replace_section("# Title\n", "figures")
    assert updated == f"# Title\n\n{report.BEGIN}\nfigures\n{report.END}\n"


def test_the_section_holds_every_figure_and_its_ratio() -> None:
    text = report.section(FIGURES, plot_link="bench/plot.png")
    assert "![Latency against load](bench/plot.png)" in text
    assert "Load average (1, 5, 15 min) at the start: 3.1, 2.0, 1.0; at the end: 3.5, 2.1, 1.0" in text
    assert "| Kipinä, events only (intake, review) | 100 cases/s | 98.0 cases/s | 80.0 cases/s |" in text
    assert "| events only: saturation vs event floor | 100 | 2,000 | cases/s | 0.05 |" in text
    # end to end p99 at 50%: Kipinä 180 ms, the floor 60 ms.
    assert "| events: end to end p99 at 50% | 180 | 60.00 | ms | 3.00 (lower is better) |" in text
    assert (
        "| events only: CPU per case at 50%, every process | 10.00 | 0.50 | CPU-ms | 20.00 (lower is better) |" in text
    )
    assert "| Kipinä events | 50% | 50.0 | end to end | 60.0 | 120 | 180 | 240 |" in text
    assert "**not bounded**: backlog grew 70/s" in text
    assert "| events | intake | 100 | 110 | 111 | — |" in text
    assert "`f (a.py:1)` 50%" in text
    assert "kipina_http" not in text and "HTTP floor, `POST /cases`" not in text  # parts not run are left out


def test_the_plot_has_a_series_per_system_that_ran() -> None:
    series = plot.series(FIGURES)
    assert set(series) == {"event floor", "Kipinä events only"}
    assert series["Kipinä events only"][1] == (50.0, 60.0, 180.0)


def test_top_frames_ranks_leaf_frames_by_their_samples() -> None:
    collapsed = "main;a (x.py:1);b (x.py:2) 6\nmain;c (x.py:3);b (x.py:2) 2\nmain;d (y.py:9) 2\nbroken line\n"
    top = top_frames(collapsed)
    assert top["samples"] == 10
    assert top["top"][0] == {"frame": "b (x.py:2)", "share": 0.8}
    assert top["top"][1] == {"frame": "d (y.py:9)", "share": 0.2}


def test_post_cases_p99_is_also_compared_at_an_equal_rate() -> None:
    figures = {
        "kipina_http": {"fractions": {"0.5": {"http": {"latency_ms": _latency(30)}}}},
        "http_floor": {
            "fractions": {"0.5": {"latency_ms": _latency(5)}},
            "at_kipina_half": {"rate": 76.0, "latency_ms": _latency(3)},
        },
    }
    rows = {row.figure: row for row in report.ratio_rows(figures)}
    equal = rows["POST /cases p99 at an equal rate (Kipinä's 50%; the floor alone)"]
    assert (equal.kipina, equal.floor, equal.higher_is_better) == (90, 9, False)
    assert rows["POST /cases p99 at 50% (in the pipeline)"].floor == 15
