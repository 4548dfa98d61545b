"""The generated section of docs/PERFORMANCE.md: bench/run.py's figures as Markdown, written between two markers
so the page's prose around it is left alone. Pure (no I/O); unit tests in tests/unit/bench/test_report.py."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from bench.measure import QUANTILES, RatioRow, ratio_table

BEGIN = "<!-- bench:generated:begin (written by `make bench`; edits here are overwritten) -->"
END = "<!-- bench:generated:end -->"
FRACTIONS = ("0.25", "0.5", "0.9")
STRETCHES = (("hop1", "hop 1"), ("hop2", "hop 2"), ("end_to_end", "end to end"))


def replace_section(document: str, section: str) -> str:
    """``document`` with what lies between the markers replaced by ``section``; the markers and the section are
    appended at the end when the document has none yet."""
    block = f"{BEGIN}\n{section.strip()}\n{END}"
    start = document.find(BEGIN)
    end = document.find(END)
    if start == -1 or end == -1 or end < start:
        return document.rstrip("\n") + "\n\n" + block + "\n"
    return document[:start] + block + document[end + len(END) :]


def _n(value: Any, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    number = float(value)
    return f"{number:,.0f}" if abs(number) >= 100 else f"{number:,.{digits}f}"


def _count(value: Any) -> str:
    return "—" if value is None else f"{int(value):,}"


def _percentiles(summary: Mapping[str, float] | None) -> str:
    if not summary:
        return "— | — | — | —"
    return " | ".join(_n(summary.get(name)) for name, _ in QUANTILES)


def _get(figures: Mapping[str, Any], *path: str) -> Any:
    node: Any = figures
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    return node


def _conditions(figures: Mapping[str, Any]) -> list[str]:
    m = figures.get("machine", {})
    args = figures.get("arguments", {})
    start = ", ".join(str(x) for x in m.get("load_average", []))
    end = ", ".join(str(x) for x in figures.get("load_average_end", []))
    return [
        f"Run of {figures.get('when', '?')}: `python -m bench.run` with "
        + ", ".join(
            f"`--{k.replace('_', '-')} {v if not isinstance(v, tuple | list) else ','.join(v)}`"
            for k, v in args.items()
        )
        + ".",
        "",
        f"- Machine: {m.get('cores', '?')} cores of {m.get('cpu', '?')}, {m.get('memory_gib', '?')} GiB of memory, "
        f"Linux {m.get('kernel', '?')}, Python {m.get('python', '?')}, PostgreSQL {m.get('postgres_major', '?')}, "
        f"Kafka {m.get('kafka', '?')} (one broker); everything on the same cores: services, broker, PostgreSQL, "
        "the load driver.",
        f"- Load average (1, 5, 15 min) at the start: {start or '?'}; at the end: {end or '?'}. Anything above about "
        "1 at the start means someone else was using the machine, and every figure below is the noisier for it.",
    ]


def _saturation(figures: Mapping[str, Any]) -> list[str]:
    floor = _get(figures, "event_floor", "saturation", "cases_per_s")
    http_floor = _get(figures, "http_floor", "saturation", "requests_per_s")
    rows = [
        "| system | saturation: highest rate with bounded lag | completed at it | completed when overloaded |",
        "|---|---:|---:|---:|",
    ]
    if floor is not None:
        rows.append(f"| event floor, batched (a backlog drained) | — | {_n(floor)} cases/s | — |")
    if http_floor is not None:
        rows.append(f"| HTTP floor, `POST /cases`, closed loop | — | {_n(http_floor)} req/s | — |")
    alone = _get(figures, "intake_alone", "requests_per_s")
    if alone is not None:
        rows.append(f"| Kipinä's intake alone, `POST /cases`, closed loop | — | {_n(alone)} req/s | — |")
    for mode, label in (
        ("events", "Kipinä, events only (intake, review)"),
        ("http", "Kipinä from HTTP (four services)"),
    ):
        sat = _get(figures, f"kipina_{mode}", "saturation")
        if sat:
            rows.append(
                f"| {label} | {_n(sat.get('rate'))} cases/s | {_n(sat.get('sustained_per_s'))} cases/s | "
                f"{_n(sat.get('overloaded_per_s'))} cases/s |"
            )
    return rows


def _search(figures: Mapping[str, Any]) -> list[str]:
    rows = ["| mode | rate offered | completed | backlog growth | verdict |", "|---|---:|---:|---:|---|"]
    for mode in ("events", "http"):
        for step in _get(figures, f"kipina_{mode}", "search") or []:
            v = step["verdict"]
            rows.append(
                f"| {mode} | {_n(v['rate'])}/s | {_n(v['completions_per_s'])}/s | {_n(v['backlog_growth_per_s'])}/s "
                f"| {'bounded' if v['bounded'] else '**not bounded**'}: {v['reason']} |"
            )
    return rows


def _latency(figures: Mapping[str, Any]) -> list[str]:
    names = " | ".join(name for name, _ in QUANTILES)
    rows = [f"| system | load | rate /s | stretch | {names} |", "|---|---|---:|---|" + "---:|" * len(QUANTILES)]
    for fraction in FRACTIONS:
        load = f"{float(fraction):.0%}"
        floor = _get(figures, "event_floor", "fractions", fraction)
        if floor:
            for key, label in STRETCHES:
                rows.append(
                    f"| event floor | {load} | {_n(floor['rate'])} | {label} | "
                    f"{_percentiles(floor['latency_ms'].get(key))} |"
                )
        http = _get(figures, "http_floor", "fractions", fraction)
        if http:
            rows.append(
                f"| HTTP floor | {load} | {_n(http['rate'])} | `POST /cases` | {_percentiles(http['latency_ms'])} |"
            )
        for mode in ("events", "http"):
            step = _get(figures, f"kipina_{mode}", "fractions", fraction)
            if not step:
                continue
            label = f"Kipinä {mode}"
            if mode == "http":
                rows.append(
                    f"| {label} | {load} | {_n(step['rate'])} | `POST /cases` | "
                    f"{_percentiles(_get(step, 'http', 'latency_ms'))} |"
                )
            for key, stretch in (*STRETCHES, ("hop2_published", "hop 2 from published"), ("review_relay", "relay")):
                rows.append(
                    f"| {label} | {load} | {_n(step['rate'])} | {stretch} | "
                    f"{_percentiles(step['latency_ms'].get(key))} |"
                )
    return rows


def ratio_rows(figures: Mapping[str, Any]) -> list[RatioRow]:
    """Kipinä's figures beside their floors': throughput, latency at 50% of each one's saturation, CPU per case."""
    rows: list[RatioRow] = []
    floor_sat = _get(figures, "event_floor", "saturation", "cases_per_s")
    http_sat = _get(figures, "http_floor", "saturation", "requests_per_s")
    events = _get(figures, "kipina_events", "saturation", "rate")
    http = _get(figures, "kipina_http", "saturation", "rate")
    rows.append(RatioRow("events only: saturation vs event floor", events, floor_sat, "cases/s"))
    rows.append(RatioRow("from HTTP: saturation vs event floor", http, floor_sat, "cases/s"))
    rows.append(
        RatioRow(
            "POST /cases, intake alone, vs HTTP floor",
            _get(figures, "intake_alone", "requests_per_s"),
            http_sat,
            "req/s",
        )
    )
    for key, label in STRETCHES:
        floor_p99 = _get(figures, "event_floor", "fractions", "0.5", "latency_ms", key, "p99")
        for mode in ("events", "http"):
            kp99 = _get(figures, f"kipina_{mode}", "fractions", "0.5", "latency_ms", key, "p99")
            rows.append(RatioRow(f"{mode}: {label} p99 at 50%", kp99, floor_p99, "ms", higher_is_better=False))
    rows.append(
        RatioRow(
            "POST /cases p99 at 50% (in the pipeline)",
            _get(figures, "kipina_http", "fractions", "0.5", "http", "latency_ms", "p99"),
            _get(figures, "http_floor", "fractions", "0.5", "latency_ms", "p99"),
            "ms",
            higher_is_better=False,
        )
    )
    rows.append(
        RatioRow(
            "POST /cases p99 at an equal rate (Kipinä's 50%; the floor alone)",
            _get(figures, "kipina_http", "fractions", "0.5", "http", "latency_ms", "p99"),
            _get(figures, "http_floor", "at_kipina_half", "latency_ms", "p99"),
            "ms",
            higher_is_better=False,
        )
    )
    floor_cpu = _get(figures, "event_floor", "fractions", "0.5", "cpu_ms_per_case")
    http_cpu = _get(figures, "http_floor", "fractions", "0.5", "cpu_ms_per_request")
    rows.append(
        RatioRow(
            "events only: CPU per case at 50%, every process",
            _get(figures, "kipina_events", "fractions", "0.5", "cpu_ms_per_case"),
            floor_cpu,
            "CPU-ms",
            higher_is_better=False,
        )
    )
    both = floor_cpu + http_cpu if floor_cpu is not None and http_cpu is not None else None
    rows.append(
        RatioRow(
            "from HTTP: CPU per case at 50%, every process, vs HTTP + event floor",
            _get(figures, "kipina_http", "fractions", "0.5", "cpu_ms_per_case"),
            both,
            "CPU-ms",
            higher_is_better=False,
        )
    )
    return rows


def _cpu(figures: Mapping[str, Any]) -> list[str]:
    rows = ["| system | load | CPU-ms per case | CPU-seconds by process |", "|---|---|---:|---|"]
    for fraction in FRACTIONS:
        load = f"{float(fraction):.0%}"
        for label, node, per in (
            ("event floor", _get(figures, "event_floor", "fractions", fraction), "cpu_ms_per_case"),
            ("HTTP floor (per request)", _get(figures, "http_floor", "fractions", fraction), "cpu_ms_per_request"),
            ("Kipinä events", _get(figures, "kipina_events", "fractions", fraction), "cpu_ms_per_case"),
            ("Kipinä HTTP", _get(figures, "kipina_http", "fractions", fraction), "cpu_ms_per_case"),
        ):
            if node:
                parts = ", ".join(f"{k} {_n(v, 2)}" for k, v in node["cpu_s"].items() if k != "total")
                rows.append(f"| {label} | {load} | {_n(node.get(per), 2)} | {parts} |")
    return rows


def _memory(figures: Mapping[str, Any]) -> list[str]:
    rows = [
        "| mode | service | idle MiB | under load (most at 90%) MiB | at the end MiB | soak growth MiB/h |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for mode in ("events", "http"):
        rss = _get(figures, f"kipina_{mode}", "rss_mib")
        if not rss:
            continue
        for service, idle in rss["idle"].items():
            growth = rss["soak_growth_mib_per_h"].get(service)
            rows.append(
                f"| {mode} | {service} | {_n(idle)} | {_n(rss['under_load'].get(service))} | "
                f"{_n(rss['after'].get(service))} | {_n(growth) if growth is not None else '—'} |"
            )
    return rows


def _profiles(figures: Mapping[str, Any]) -> list[str]:
    lines: list[str] = []
    for mode in ("events", "http"):
        profile = _get(figures, f"kipina_{mode}", "profile", "profile")
        if not profile:
            continue
        service = profile.get("service", "?")
        if "error" in profile:
            lines.append(f"- {mode}, {service}: no profile ({profile['error'].strip()[:200]})")
            continue
        top = "; ".join(f"`{t['frame']}` {t['share']:.0%}" for t in profile.get("top", [])[:8])
        lines.append(f"- {mode}, {service} ({profile.get('samples', 0)} samples at 50% load): {top}")
    return lines


def _lifecycle(figures: Mapping[str, Any]) -> list[str]:
    """The full lifecycle (bench/lifecycle.py), when the run had ``--lifecycle``."""
    life = figures.get("lifecycle")
    if not life:
        return []
    names = " | ".join(name for name, _ in QUANTILES)
    fates = ", ".join(f"{v} {k}" for k, v in sorted(life.get("fates", {}).items()))
    deliveries = life.get("deliveries", {})
    notify = deliveries.get("notify", {})
    facts = life.get("facts", {})
    rows = [
        "#### The full lifecycle (the driver plays operator, submitters, reviewers and jurors)",
        "",
        f"{_count(life.get('cases'))} cases at {_n(life.get('rate'))}/s (Poisson; fates: {fates}): "
        f"{_count(life.get('completed'))} completed (published or rejected), "
        f"**{_n(life.get('completed_per_s'), 2)} cases/s** completed, "
        f"{_n(life.get('cpu_ms_per_completed_case'))} CPU-ms per completed case over every process; "
        f"every case as planned, exactly once: {'yes' if facts.get('as_planned') else '**no**'}; each submitter "
        f"heard exactly their cases' messages: {'yes' if facts.get('submitters_heard_as_expected') else '**no**'}.",
        "",
        f"| stretch | count | {names} |",
        "|---|---:|" + "---:|" * len(QUANTILES),
    ]
    for key, label in (("to_published", "submission → published"), ("to_rejected", "submission → rejected")):
        summary = _get(life, "latency_ms", key) or {}
        rows.append(f"| {label} | {_count(summary.get('count'))} | {_percentiles(summary)} |")
    rows += [
        "",
        "| service | requests | requests/s | CPU-s |",
        "|---|---:|---:|---:|",
    ]
    cpu = life.get("cpu_s", {})
    for name in sorted(set(life.get("requests", {})) | {k for k in cpu if k != "total"}):
        sent, per_s = life.get("requests", {}).get(name), life.get("requests_per_s", {}).get(name)
        rows.append(f"| {name} | {_count(sent)} | {_n(per_s, 2)} | {_n(cpu.get(name), 2)} |")
    rows += [
        "",
        f"Notify's deliveries: {_count(notify.get('delivered'))} delivered, {_count(notify.get('failed'))} failed, "
        f"{_count(notify.get('pending'))} pending; the SMTP server received {_count(deliveries.get('smtp_received'))} "
        f"({_n(deliveries.get('per_completed_case'), 2)} per completed case).",
    ]
    return rows


def section(figures: Mapping[str, Any], *, plot_link: str) -> str:
    """The whole generated section."""
    soak = _get(figures, "kipina_http", "rss_mib", "soak_minutes") or 0
    parts = [
        "### The latest run",
        "",
        *_conditions(figures),
        "",
        "#### Throughput and saturation",
        "",
        *_saturation(figures),
        "",
        "The saturation search (each step's arrivals open loop, Poisson; bounded while the backlog stops growing):",
        "",
        *_search(figures),
        "",
        "#### Kipinä ÷ floor",
        "",
        ratio_table(ratio_rows(figures)),
        "",
        "#### Latency at 25%, 50% and 90% of each system's saturation (ms)",
        "",
        *_latency(figures),
        "",
        f"![Latency against load]({plot_link})",
        "",
        "#### CPU per case (every process: the services or floor processes, Kafka, PostgreSQL)",
        "",
        *_cpu(figures),
        "",
        f"#### Resident memory (soak: {soak:g} minutes at 50% from HTTP)",
        "",
        *_memory(figures),
        "",
        "#### Where the hottest process spent its samples (py-spy, leaf frames)",
        "",
        *(_profiles(figures) or ["- no profile in this run"]),
    ]
    lifecycle = _lifecycle(figures)
    if lifecycle:
        parts += ["", *lifecycle]
    return "\n".join(parts) + "\n"
