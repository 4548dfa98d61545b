"""Where a webhook may point (domain rules and ``WebhookTargets`` with a resolver the test controls), the pinned
request that connects to a checked address, and sealing webhook secrets."""

from __future__ import annotations

import asyncio
import ipaddress
import re
from collections.abc import Sequence

import pytest
from cryptography.fernet import Fernet

from services.notify import targets
from services.notify.domain import IPAddress, webhook_address_problem, webhook_url_problem
from services.notify.sealing import SecretBox, SecretUnreadable
from services.notify.targets import TargetRefused, TargetUnresolved, WebhookTargets, pinned

# Every kind of address no webhook may reach, as an operator might write it.
REFUSED = {
    "127.0.0.1": "loopback",
    "127.255.0.9": "loopback",
    "::1": "loopback",
    "10.0.0.5": "private",
    "172.16.3.4": "private",
    "172.31.255.255": "private",
    "192.168.0.1": "private",
    "fc00::1": "private",
    "fd12:3456::7": "private",
    "169.254.0.1": "link-local",
    "169.254.169.254": "link-local",
    "fe80::1": "link-local",
    "fd00:ec2::254": "private",
    "0.0.0.0": "unspecified",
    "::": "unspecified",
    "224.0.0.1": "multicast",
    "239.255.255.250": "multicast",
    "ff02::1": "multicast",
    "100.64.0.1": "reserved",
    "240.0.0.1": "private",
    "255.255.255.255": "private",
    "192.0.2.10": "private",
    "::ffff:127.0.0.1": "loopback",
    "::ffff:10.0.0.1": "private",
    "::ffff:169.254.169.254": "link-local",
    "64:ff9b::a9fe:a9fe": "link-local",
    "2002:a00:1::1": "private",
}
PUBLIC = ["93.184.216.34", "8.8.8.8", "2606:2800:220:1:248:1893:25c8:1946", "::ffff:93.184.216.34"]


@pytest.mark.parametrize(("text", "kind"), sorted(REFUSED.items()))
def test_addresses_no_webhook_may_reach_are_refused(text: str, kind: str) -> None:
    problem = webhook_address_problem(ipaddress.ip_address(text), allow_loopback=False)
    assert problem is not None and kind in problem


@pytest.mark.parametrize("text", PUBLIC)
def test_public_addresses_are_allowed(text: str) -> None:
    assert webhook_address_problem(ipaddress.ip_address(text), allow_loopback=False) is None


def test_development_allows_loopback_only() -> None:
    for text in ("127.0.0.1", "::1", "::ffff:127.0.0.1"):
        assert webhook_address_problem(ipaddress.ip_address(text), allow_loopback=True) is None
    others = [t for t, kind in REFUSED.items() if kind != "loopback"]
    assert all(webhook_address_problem(ipaddress.ip_address(t), allow_loopback=True) for t in others)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://hooks.example.org/h", "scheme"),
        ("file:///etc/passwd", "scheme"),
        ("gopher://hooks.example.org/", "scheme"),
        ("hooks.example.org/h", "scheme"),
        ("http:///h", "no host"),
        ("http://metadata.google.internal/computeMetadata/v1/", "metadata"),
        ("http://METADATA.google.internal./x", "metadata"),
        ("http://localhost:8080/h", "loopback"),
        ("http://api.localhost/h", "loopback"),
        ("http://[::1]:8080/h", "loopback"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("https://[fd00:ec2::254]/", "private"),
    ],
)
def test_urls_refused_on_their_face(url: str, problem: str) -> None:
    found = webhook_url_problem(url, allow_loopback=False)
    assert found is not None and problem in found


def test_a_name_waits_for_its_resolution() -> None:
    assert webhook_url_problem("https://hooks.agency.example/in", allow_loopback=False) is None
    assert webhook_url_problem("http://localhost:9/h", allow_loopback=True) is None


class Names:
    """A resolver the test controls: name → addresses (a missing name does not resolve)."""

    def __init__(self, **names: Sequence[str]) -> None:
        self.names = {k.replace("_", "."): v for k, v in names.items()}
        self.asked: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> list[IPAddress]:
        self.asked.append((host, port))
        if host not in self.names:
            raise OSError(f"{host}: name not known")
        return [ipaddress.ip_address(a) for a in self.names[host]]


async def test_every_resolved_address_is_checked() -> None:
    names = Names(
        public_example=["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"],
        mixed_example=["93.184.216.34", "10.0.0.5"],
        metadata_example=["169.254.169.254"],
        empty_example=[],
    )
    targets = WebhookTargets(resolve=names, allow_loopback=False)
    assert [str(a) for a in await targets.addresses("https://public.example/h")] == [
        "93.184.216.34",
        "2606:2800:220:1:248:1893:25c8:1946",
    ]
    assert names.asked == [("public.example", 443)]
    with pytest.raises(
        TargetRefused, match=re.escape("mixed.example resolves to 10.0.0.5: 10.0.0.5 is a private address")
    ):
        await targets.addresses("http://mixed.example:8080/h")
    assert names.asked[-1] == ("mixed.example", 8080)
    with pytest.raises(TargetRefused, match="link-local"):
        await targets.addresses("http://metadata.example/")
    with pytest.raises(TargetUnresolved, match="no address"):
        await targets.addresses("http://empty.example/")
    with pytest.raises(TargetUnresolved, match="does not resolve"):
        await targets.addresses("http://unknown.example/")
    # A literal address is not resolved; a refused one never reaches the resolver.
    asked = len(names.asked)
    assert [str(a) for a in await targets.addresses("http://8.8.8.8/h")] == ["8.8.8.8"]
    with pytest.raises(TargetRefused):
        await targets.addresses("http://[::ffff:7f00:1]/h")
    assert len(names.asked) == asked


def test_the_request_goes_to_the_checked_address_and_names_the_host() -> None:
    request = pinned("https://hooks.agency.example:8443/in?x=1", ipaddress.ip_address("93.184.216.34"))
    assert str(request.url) == "https://93.184.216.34:8443/in?x=1"
    assert request.host_header == "hooks.agency.example:8443"
    assert request.extensions == {"sni_hostname": "hooks.agency.example"}
    v6 = pinned("http://hooks.agency.example/in", ipaddress.ip_address("2606:2800:220:1:248:1893:25c8:1946"))
    assert str(v6.url) == "http://[2606:2800:220:1:248:1893:25c8:1946]/in"
    assert v6.host_header == "hooks.agency.example" and v6.extensions == {}


def test_secrets_are_sealed_and_keys_rotate() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    secret = "a webhook secret 0123456789"
    sealed = SecretBox([old]).seal(secret)
    assert secret not in sealed and SecretBox([old]).open(sealed) == secret
    rotated = SecretBox([new, old])
    assert rotated.open(sealed) == secret  # the old key still opens what it sealed
    resealed = rotated.reseal(sealed)
    assert SecretBox([new]).open(resealed) == secret  # after re-sealing the old key may go
    with pytest.raises(SecretUnreadable):
        SecretBox([new]).open(sealed)
    with pytest.raises(ValueError, match="32 url-safe base64"):
        SecretBox.from_setting("not-a-key")
    with pytest.raises(ValueError, match="names no key"):
        SecretBox.from_setting(" , ")


async def test_a_resolver_that_never_answers_counts_as_unresolved(monkeypatch: pytest.MonkeyPatch) -> None:
    async def silent(host: str, port: int) -> list[IPAddress]:
        await asyncio.Event().wait()
        return []

    monkeypatch.setattr(targets, "RESOLVE_TIMEOUT_S", 0.01)
    with pytest.raises(TargetUnresolved, match="does not resolve"):
        await WebhookTargets(resolve=silent).addresses("https://slow.agency.example/h")
