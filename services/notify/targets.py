"""Where a webhook may be sent: its URL checked when it is subscribed, its host resolved again and every address
checked before each delivery, and the connection made to an address that was checked.

A name that resolved to a public address when it was subscribed may resolve to 10.0.0.5 or 169.254.169.254 when a
delivery goes out (DNS rebinding); so the worker resolves the name itself, refuses the delivery when any of its
addresses is refused (``domain.webhook_address_problem``), and connects to the first checked address, sending the
name in ``Host`` and as the TLS server name (the certificate is still checked against the name). httpx never gets
to resolve the name again. Redirects are not followed (``delivery_worker``'s client), so a target cannot bounce a
delivery elsewhere.

The resolver is injectable (``WebhookTargets.resolve``): the tests give notify one they control.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import httpx

from services.notify import domain
from services.notify.domain import IPAddress

# (host, port) → its addresses; raises OSError when the name does not resolve.
# A resolver that does not answer within this long counts as "does not resolve" (asyncio's TimeoutError is an
# OSError): a subscription is taken and checked again at delivery, a delivery is tried again later.
RESOLVE_TIMEOUT_S = 5.0
Resolver = Callable[[str, int], Awaitable[Sequence[IPAddress]]]


async def resolve_with_system(host: str, port: int) -> list[IPAddress]:
    """The host's addresses as the system resolver gives them (getaddrinfo, without blocking the loop)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _canonical, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])  # drop an IPv6 zone (fe80::1%eth0)
        if address not in addresses:
            addresses.append(address)
    return addresses


class TargetRefused(Exception):
    """The target is not a public address (its reason says which address and why)."""


class TargetUnresolved(Exception):
    """The target's name does not resolve (now: a delivery tries again later)."""


@dataclass(frozen=True)
class WebhookTargets:
    resolve: Resolver = resolve_with_system
    allow_loopback: bool = False

    async def addresses(self, url: str) -> list[IPAddress]:
        """Every address of the URL's host, each one allowed; refused (``TargetRefused``) otherwise."""
        problem = domain.webhook_url_problem(url, allow_loopback=self.allow_loopback)
        if problem is not None:
            raise TargetRefused(problem)
        parsed = httpx.URL(url)
        host = parsed.raw_host.decode("ascii")  # an international name as DNS knows it (punycode)
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None:
            return [literal]
        try:
            async with asyncio.timeout(RESOLVE_TIMEOUT_S):
                addresses = list(await self.resolve(host, parsed.port or (443 if parsed.scheme == "https" else 80)))
        except OSError as exc:
            raise TargetUnresolved(f"{host} does not resolve ({exc})") from exc
        if not addresses:
            raise TargetUnresolved(f"{host} resolves to no address")
        for address in addresses:
            problem = domain.webhook_address_problem(address, allow_loopback=self.allow_loopback)
            if problem is not None:
                raise TargetRefused(f"{host} resolves to {address}: {problem}")
        return addresses


@dataclass(frozen=True)
class PinnedRequest:
    """A request to a checked address that still names the host: ``Host`` and the TLS server name."""

    url: httpx.URL
    host_header: str
    extensions: dict[str, str]


def pinned(url: str, address: IPAddress) -> PinnedRequest:
    original = httpx.URL(url)
    extensions = {"sni_hostname": original.raw_host.decode("ascii")} if original.scheme == "https" else {}
    return PinnedRequest(
        url=original.copy_with(host=str(address)), host_header=original.netloc.decode("ascii"), extensions=extensions
    )
