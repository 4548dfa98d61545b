"""Who the client is behind proxies, and the submission limits' counting (in memory, no I/O)."""

from __future__ import annotations

import pytest

from services.intake.throttling import SubmissionLimits, client_address, trusted_networks
from shared.errors import TooManyRequests

PROXIES = trusted_networks("10.0.0.0/8, 127.0.0.1, fd00::/8")


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        ("198.51.100.4", [], "198.51.100.4"),
        ("198.51.100.4", ["203.0.113.9"], "198.51.100.4"),  # an untrusted peer's header is ignored
        ("10.0.0.2", ["203.0.113.9"], "203.0.113.9"),
        ("10.0.0.2", ["192.0.2.1, 203.0.113.9, 10.0.0.7"], "203.0.113.9"),  # past every trusted hop
        ("10.0.0.2", ["192.0.2.1", "203.0.113.9"], "203.0.113.9"),  # several headers read as one list
        ("127.0.0.1", ["10.0.0.3, 10.0.0.7"], "10.0.0.3"),  # all trusted: the left-most
        ("10.0.0.2", [], "10.0.0.2"),
        ("10.0.0.2", ["not-an-address"], "not-an-address"),
        ("fd00::1", ["2001:db8::5"], "2001:db8::5"),
        (None, ["203.0.113.9"], "unknown"),
    ],
)
def test_the_client_behind_trusted_proxies(peer: str | None, forwarded: list[str], client: str) -> None:
    assert client_address(peer, forwarded, PROXIES) == client


def test_without_trusted_proxies_the_header_is_never_believed() -> None:
    assert client_address("127.0.0.1", ["203.0.113.9"], ()) == "127.0.0.1"
    assert trusted_networks("") == ()


async def test_each_limit_counts_its_own_key_and_refusals_are_not_counted() -> None:
    limits = SubmissionLimits(per_submitter=2, per_address=3)
    await limits.admit(submitter_id="a", address="x")
    await limits.admit(submitter_id="a", address="x")
    with pytest.raises(TooManyRequests) as refused:
        await limits.admit(submitter_id="a", address="x")
    assert refused.value.error == "too_many_submissions" and 1 <= refused.value.retry_after_s <= 60
    assert refused.value.body()["retry_after_s"] == refused.value.retry_after_s
    await limits.admit(submitter_id="b", address="x")  # a's refusal did not use the address's third
    with pytest.raises(TooManyRequests, match="your address"):
        await limits.admit(submitter_id="c", address="x")
    await limits.admit(submitter_id="c", address="y")


async def test_zero_is_no_limit() -> None:
    limits = SubmissionLimits(per_submitter=0, per_address=0)
    for _ in range(500):
        await limits.admit(submitter_id="a", address="x")
