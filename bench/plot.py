"""The plot of latency against load that bench/run.py writes: end-to-end p50 and p99 of Kipinä (events only, from
HTTP) and of the event floor at 25%, 50% and 90% of each one's saturation, against the rate offered."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

FRACTIONS = ("0.25", "0.5", "0.9")


def series(figures: Mapping[str, Any]) -> dict[str, list[tuple[float, float, float]]]:
    """Per system, (rate offered, end-to-end p50 ms, p99 ms) at each fraction it ran."""
    systems = {
        "event floor": figures.get("event_floor", {}).get("fractions", {}),
        "Kipinä events only": figures.get("kipina_events", {}).get("fractions", {}),
        "Kipinä from HTTP": figures.get("kipina_http", {}).get("fractions", {}),
    }
    out: dict[str, list[tuple[float, float, float]]] = {}
    for name, fractions in systems.items():
        points = []
        for fraction in FRACTIONS:
            step = fractions.get(fraction)
            if step:
                end = step["latency_ms"]["end_to_end"]
                points.append((float(step["rate"]), float(end["p50"]), float(end["p99"])))
        if points:
            out[name] = points
    return out


def latency_against_load(figures: Mapping[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display: a file only
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.5), dpi=110)
    for name, points in series(figures).items():
        rates = [p[0] for p in points]
        (line,) = ax.plot(rates, [p[1] for p in points], marker="o", label=f"{name} p50")
        ax.plot(rates, [p[2] for p in points], marker="^", linestyle="--", color=line.get_color(), label=f"{name} p99")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("offered load, cases/s (25%, 50%, 90% of each system's saturation)")
    ax.set_ylabel("end-to-end latency, ms")
    ax.set_title(f"Latency against load — {figures.get('when', '')}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
