"""Fixed open-loop steps from HTTP through the four services, to see how Kipinä behaves past saturation.

    .venv/bin/python -m bench.overload --rates 80,200 [KIPINA_INTAKE_MAX_REQUESTS_IN_FLIGHT=0 ...]

Each step offers cases at its rate for ``--seconds`` (Poisson arrivals, as ``make bench``'s search) and prints,
per step: the requests answered per second, the cases completed *during* the arrivals (a consumer starved by a
surge completes few until it ends), all cases completed and when, POST /cases p99 and the answers by status (503:
refused, service busy). ``NAME=value`` arguments are given to the services' environment, so two settings can be
compared back to back. It asserts nothing and writes no docs.
"""

from __future__ import annotations

import argparse
import asyncio
import os

from bench import pipeline
from bench.run import Kipina


async def run(rates: list[float], seconds: float, extra_env: dict[str, str], *, base_port: int) -> None:
    names = tuple(s.name for s in pipeline.SERVICES)
    started = await pipeline.start(names, base_port=base_port, extra_env=extra_env)
    try:
        call_id = await pipeline.open_call(started.urls["intake"])
        kip = Kipina("http", started, call_id, os.environ["KIPINA_KAFKA_BOOTSTRAP"])
        for rate in rates:
            step = await kip.step("search", rate, seconds)
            verdict, http = step.verdict, step.http
            print(
                f"{rate:g}/s offered: answered {http['requests_per_s']}/s {http['statuses']}; "
                f"completed during the arrivals {verdict['completions_per_s']}/s; "
                f"{step.completed} completed in {step.drained_s} s; "
                f"POST /cases p99 {http['latency_ms']['p99']} ms; {step.cpu_ms_per_case} CPU-ms per case",
                flush=True,
            )
    finally:
        started.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="80,200", help="the steps' rates (cases/s), comma-separated")
    parser.add_argument("--seconds", type=float, default=10.0, help="arrivals per step")
    parser.add_argument("--base-port", type=int, default=18700, help="services on base + 1 …")
    parser.add_argument("env", nargs="*", help="NAME=value for the services' environment")
    args = parser.parse_args()
    extra = dict(item.split("=", 1) for item in args.env)
    asyncio.run(run([float(r) for r in args.rates.split(",")], args.seconds, extra, base_port=args.base_port))


if __name__ == "__main__":
    main()
