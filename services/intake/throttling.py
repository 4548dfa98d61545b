"""Rate limits on submissions (``POST /cases`` and the submission page): per submitter (the token's ``sub``) and
per client address, each at most so many in any minute (a moving window, from the ``limits`` library).

The counts live in the process: two intake instances each take the limit, so behind a load balancer the
effective limit is the number of instances times the setting (docs: README, "Settings"). A refused submission is
429 ``too_many_submissions`` with ``Retry-After``: the seconds until the oldest counted submission leaves the
window. Refused attempts are not counted; an accepted one counts against both limits.

The client address is the TCP peer's. ``X-Forwarded-For`` is believed only from the proxies listed in
``KIPINA_INTAKE_TRUSTED_PROXIES``: walking it from the right, past every trusted proxy, the first address is the
client's. With no trusted proxy, the header is ignored (anyone can write it).
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

from fastapi import Request
from limits import RateLimitItem, RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter

from shared.errors import TooManyRequests

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def trusted_networks(setting: str) -> tuple[Network, ...]:
    """``KIPINA_INTAKE_TRUSTED_PROXIES``: comma-separated addresses or networks (``10.0.0.0/8``, ``::1``)."""
    return tuple(ipaddress.ip_network(p.strip(), strict=False) for p in setting.split(",") if p.strip())


def _trusted(address: str, proxies: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in proxies)


def client_address(peer: str | None, forwarded_for: Sequence[str], proxies: Sequence[Network]) -> str:
    """The client's address: the peer's, unless the peer is a trusted proxy; then the right-most address of the
    ``X-Forwarded-For`` headers that is not a trusted proxy (the left-most when all are)."""
    if peer is None:
        return "unknown"
    if not proxies or not _trusted(peer, proxies):
        return peer
    hops = [h.strip() for header in forwarded_for for h in header.split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, proxies):
            return hop
    return hops[0] if hops else peer


@dataclass(frozen=True)
class Refusal:
    """Which limit refused, and when the next submission will be taken."""

    limit: str
    retry_after_s: int


class SubmissionLimits:
    """The submission limits of one intake process (0 = no limit)."""

    def __init__(self, *, per_submitter: int, per_address: int, trusted_proxies: Sequence[Network] = ()) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._per_submitter: RateLimitItem | None = RateLimitItemPerMinute(per_submitter) if per_submitter else None
        self._per_address: RateLimitItem | None = RateLimitItemPerMinute(per_address) if per_address else None
        self.trusted_proxies = tuple(trusted_proxies)

    async def admit(self, *, submitter_id: str, address: str) -> None:
        """Count one submission of ``submitter_id`` from ``address``, or refuse it (``TooManyRequests``)."""
        checks = [
            (item, key, what)
            for item, key, what in (
                (self._per_submitter, f"submitter:{submitter_id}", "you have"),
                (self._per_address, f"address:{address}", "your address has"),
            )
            if item is not None
        ]
        for item, key, what in checks:
            if not await self._limiter.test(item, key):
                stats = await self._limiter.get_window_stats(item, key)
                retry_after_s = max(1, math.ceil(stats.reset_time - time.time()))
                raise TooManyRequests(
                    f"{what} submitted {item.amount} cases in the last minute, the most intake takes; "
                    f"try again in {retry_after_s} s",
                    error="too_many_submissions",
                    retry_after_s=retry_after_s,
                )
        for item, key, _ in checks:
            await self._limiter.hit(item, key)

    async def admit_request(self, request: Request, *, submitter_id: str) -> None:
        peer = request.client.host if request.client is not None else None
        address = client_address(peer, request.headers.getlist("x-forwarded-for"), self.trusted_proxies)
        await self.admit(submitter_id=submitter_id, address=address)


def submission_limits(request: Request) -> SubmissionLimits:
    """The app's limits (``create`` puts them on ``app.state``)."""
    limits: SubmissionLimits = request.app.state.submission_limits
    return limits
