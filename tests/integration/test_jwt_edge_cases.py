"""Bearer tokens that must not get in, on a real endpoint of each service, in both of ``TokenVerifier``'s modes.

Development mode checks HS256 tokens against the shared secret; identity-provider mode checks RS256 tokens against
the keys of a JWKS, here served by a small HTTP server of the test's own. In each mode every service, running
in-process against the real Kafka and PostgreSQL, is sent a token that is expired, not yet valid (``nbf``, ``iat``),
unsigned (``alg: none``), signed with the wrong key, with the wrong algorithm (HS512 for HS256; in identity-provider
mode HS256 keyed with the provider's own public key, the classic confusion, and the development secret), with the
wrong issuer or audience, without each claim Kipinä needs, with claims of the wrong shape, tampered with, or not a
JWT at all. Each answers 401 with one and the same body and ``WWW-Authenticate`` header: the caller never learns
which check failed. A well-made token of each mode is let in, so the refusals are the tokens' and not the setup's.
Tokens naming key ids the JWKS does not have do not make the service fetch the JWKS again each time.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from jwt.algorithms import RSAAlgorithm

from shared import registry
from shared.auth import AUDIENCE, REQUIRED_CLAIMS, TokenVerifier
from shared.settings import ServiceSettings
from tests.support.harness import running_app
from tests.support.infra import reset_database, unique_group
from tests.support.reliability import Reliability, Row

pytestmark = pytest.mark.integration

# A real endpoint of each service that an operator may call.
ENDPOINTS = {"intake": "/calls", "review": "/queue", "awards": "/evaluations", "notify": "/feed"}

OIDC_ISSUER = "https://idp.kipina.test/realms/kipina"
OIDC_AUDIENCE = "kipina-api"
KEY_ID = "idp-key-1"
REQUIRED = [*REQUIRED_CLAIMS, "iss", "aud"]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segment(value: dict[str, Any]) -> str:
    return _b64(json.dumps(value, separators=(",", ":")).encode())


def hand_signed(header: dict[str, Any], claims: dict[str, Any], key: bytes | None) -> str:
    """A token signed by hand: HMAC (SHA-256/512 as the header says) with any bytes as the key, or none at all.

    PyJWT itself refuses to use a PEM public key as an HMAC secret, which is exactly the forgery to try.
    """
    signing_input = f"{_segment(header)}.{_segment(claims)}"
    if key is None:
        return f"{signing_input}."
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[header["alg"]]
    return f"{signing_input}.{_b64(hmac.new(key, signing_input.encode(), digest).digest())}"


def rs256_signed(header: dict[str, Any], claims: dict[str, Any], key: rsa.RSAPrivateKey) -> str:
    """An RS256 token with a header PyJWT would not write (a ``kid`` that is no string)."""
    signing_input = f"{_segment(header)}.{_segment(claims)}"
    signature = RSAAlgorithm(RSAAlgorithm.SHA256).sign(signing_input.encode(), key)
    return f"{signing_input}.{_b64(signature)}"


def _numeric(claims: dict[str, Any]) -> dict[str, Any]:
    return {k: int(v.timestamp()) if isinstance(v, datetime) else v for k, v in claims.items()}


@dataclass(frozen=True)
class Mode:
    """How a service checks tokens, and how to make a token it would take (``sign``) from claims."""

    name: str
    issuer: str
    audience: str
    sign: Callable[[dict[str, Any]], str]


def claims_for(mode: Mode, **changes: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": "op-jwt",
        "roles": ["operator"],
        "org": "org-ops",
        "lang": "en",
        "name": "Operator",
        "email": "op-jwt@example.org",
        "iss": mode.issuer,
        "aud": mode.audience,
        "iat": now,
        "exp": now + timedelta(minutes=10),
    }
    claims.update(changes)
    return _numeric(claims)


def without(claims: dict[str, Any], name: str) -> dict[str, Any]:
    return {k: v for k, v in claims.items() if k != name}


def refused_tokens(mode: Mode, *, forgeries: dict[str, str]) -> dict[str, str]:
    """Every token of the list, by what is wrong with it; ``forgeries`` are the mode's own."""
    now = datetime.now(UTC)
    good = claims_for(mode)
    signed = mode.sign(good)
    head, body, signature = signed.split(".")
    tampered_body = _segment({**good, "roles": ["operator", "juror"], "sub": "someone-else"})
    tokens = {
        "expired": mode.sign(claims_for(mode, iat=now - timedelta(hours=2), exp=now - timedelta(minutes=1))),
        "not yet valid (nbf in the future)": mode.sign(claims_for(mode, nbf=now + timedelta(minutes=10))),
        "not yet valid (iat in the future)": mode.sign(
            claims_for(mode, iat=now + timedelta(minutes=10), exp=now + timedelta(hours=1))
        ),
        "unsigned (alg none)": hand_signed({"alg": "none", "typ": "JWT"}, good, None),
        "unsigned (alg None)": hand_signed({"alg": "None", "typ": "JWT"}, good, None),
        "unsigned, the good signature kept": f"{_segment({'alg': 'none', 'typ': 'JWT'})}.{body}.{signature}",
        "wrong issuer": mode.sign(claims_for(mode, iss="https://evil.example")),
        "wrong audience": mode.sign(claims_for(mode, aud="someone-else")),
        "audience list without ours": mode.sign(claims_for(mode, aud=["a", "b"])),
        "tampered claims": f"{head}.{tampered_body}.{signature}",
        "signature stripped": f"{head}.{body}.",
        "roles a string": mode.sign(claims_for(mode, roles="operator")),
        "unknown role": mode.sign(claims_for(mode, roles=["admin"])),
        "empty subject": mode.sign(claims_for(mode, sub="")),
        "empty organisation": mode.sign(claims_for(mode, org="")),
        "exp not a number": mode.sign({**good, "exp": "tomorrow"}),
        "not three parts": "abc",
        "two parts": f"{head}.{body}",
        "four parts": f"{signed}.extra",
        "bad base64": "!!!.###.$$$",
        "header not JSON": f"{_b64(b'not json')}.{body}.{signature}",
        "payload not JSON": f"{head}.{_b64(b'not json')}.{signature}",
        "payload a JSON list": f"{head}.{_b64(b'[1,2]')}.{signature}",
        "empty parts": "..",
    }
    for name in REQUIRED:
        tokens[f"without {name}"] = mode.sign(without(good, name))
    tokens.update(forgeries)
    return tokens


# --------------------------------------------------------------------------- a JWKS of the test's own


@dataclass
class Jwks:
    url: str
    private_key: rsa.RSAPrivateKey
    public_pem: bytes
    fetches: list[str]


@contextlib.contextmanager
def jwks_server() -> Iterator[Jwks]:
    """An identity provider's JWKS endpoint on a free loopback port, counting the times it is fetched."""
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = private_key.public_key()
    jwk = json.loads(RSAAlgorithm.to_jwk(public))
    body = json.dumps({"keys": [{**jwk, "kid": KEY_ID, "use": "sig", "alg": "RS256"}]}).encode()
    fetches: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            fetches.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="jwks", daemon=True)
    thread.start()
    try:
        pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        yield Jwks(
            url=f"http://127.0.0.1:{server.server_address[1]}/jwks.json",
            private_key=private_key,
            public_pem=pem,
            fetches=fetches,
        )
    finally:
        server.shutdown()
        server.server_close()


# --------------------------------------------------------------------------- the services


@contextlib.asynccontextmanager
async def running(service: str, infra_env: dict[str, str]) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    part = registry.part(service)
    await reset_database(infra_env[part.database_env])
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(f"{part.env_prefix}CONSUMER_GROUP", unique_group(f"jwt-{service}"))
        mp.setenv("KIPINA_LOG_LEVEL", "WARNING")
        from importlib import import_module

        app: FastAPI = import_module(f"services.{service}.app").create()
        async with running_app(app) as client:
            yield app, client


def _verifier(app: FastAPI, **oidc: str) -> TokenVerifier:
    settings: ServiceSettings = app.state.settings
    return TokenVerifier(settings.model_copy(update=oidc))


def _other_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


async def test_tokens_refused_alike(infra_env: dict[str, str], reliability: Reliability) -> None:
    row = reliability.row("Access control and secrets", "JWT edge cases")
    row.notes = "each service, in development HS256 and identity-provider RS256/JWKS mode"
    problems: list[str] = []
    bodies: set[str] = set()
    for service in ENDPOINTS:
        problems += await _try_tokens(service, infra_env, row, bodies)
    assert not problems, "\n".join(problems)
    assert len(bodies) == 1, f"the refusals differ, telling which check failed: {sorted(bodies)}"


async def _try_tokens(service: str, infra_env: dict[str, str], row: Row, bodies: set[str]) -> list[str]:
    """The problems found on ``service``: tokens let in, refusals other than 401, JWKS fetched per unknown kid."""
    path = ENDPOINTS[service]
    problems: list[str] = []
    with jwks_server() as jwks:
        async with running(service, infra_env) as (app, client):
            secret = app.state.settings.jwt_secret.get_secret_value()
            issuer = app.state.settings.jwt_issuer
            development = Mode("HS256", issuer, AUDIENCE, lambda c: jwt.encode(c, secret, algorithm="HS256"))
            provider = Mode(
                "RS256/JWKS",
                OIDC_ISSUER,
                OIDC_AUDIENCE,
                lambda c: jwt.encode(c, jwks.private_key, algorithm="RS256", headers={"kid": KEY_ID}),
            )
            other_key = _other_rsa_key()
            good_dev = claims_for(development)
            good_idp = claims_for(provider)
            verifiers = {
                development.name: (_verifier(app), development),
                provider.name: (
                    _verifier(app, oidc_jwks_url=jwks.url, oidc_issuer=OIDC_ISSUER, oidc_audience=OIDC_AUDIENCE),
                    provider,
                ),
            }
            forgeries = {
                development.name: {
                    "wrong secret": jwt.encode(good_dev, "not-the-secret-" + "x" * 32, algorithm="HS256"),
                    "HS512 with the secret": hand_signed({"alg": "HS512", "typ": "JWT"}, good_dev, secret.encode()),
                    "HS384 with the secret": hand_signed({"alg": "HS384", "typ": "JWT"}, good_dev, secret.encode()),
                    "RS256 of some key": jwt.encode(good_dev, other_key, algorithm="RS256"),
                    "identity provider's RS256 token": provider.sign(claims_for(development)),
                },
                provider.name: {
                    "HS256 keyed with the provider's public key (PEM)": hand_signed(
                        {"alg": "HS256", "typ": "JWT", "kid": KEY_ID}, good_idp, jwks.public_pem
                    ),
                    "HS256 keyed with the provider's public key, no kid": hand_signed(
                        {"alg": "HS256", "typ": "JWT"}, good_idp, jwks.public_pem
                    ),
                    "HS256 with the development secret": hand_signed(
                        {"alg": "HS256", "typ": "JWT", "kid": KEY_ID}, good_idp, secret.encode()
                    ),
                    "a development token": development.sign(good_dev),
                    "RS256 of another key, the provider's kid": jwt.encode(
                        good_idp, other_key, algorithm="RS256", headers={"kid": KEY_ID}
                    ),
                    "RS256 of another key, an unknown kid": jwt.encode(
                        good_idp, other_key, algorithm="RS256", headers={"kid": "not-a-key"}
                    ),
                    "RS256 without kid": jwt.encode(good_idp, jwks.private_key, algorithm="RS256"),
                    "RS512 of the provider's key": jwt.encode(
                        good_idp, jwks.private_key, algorithm="RS512", headers={"kid": KEY_ID}
                    ),
                    "PS256 of the provider's key": jwt.encode(
                        good_idp, jwks.private_key, algorithm="PS256", headers={"kid": KEY_ID}
                    ),
                    "kid not a string": rs256_signed({"alg": "RS256", "kid": {"$ne": ""}}, good_idp, jwks.private_key),
                },
            }
            for mode_name, (verifier, mode) in verifiers.items():
                app.state.token_verifier = verifier
                # The mode's own good token gets in: the refusals below are the tokens', not the setup's.
                admitted = await client.get(path, headers={"Authorization": f"Bearer {mode.sign(claims_for(mode))}"})
                row.fuzz_cases += 1
                if admitted.status_code != 200:
                    problems.append(
                        f"{service}, {mode_name}: a good token was answered {admitted.status_code} {admitted.text}"
                    )
                for what, bad in refused_tokens(mode, forgeries=forgeries[mode_name]).items():
                    row.fuzz_cases += 1
                    response = await client.get(path, headers={"Authorization": f"Bearer {bad}"})
                    if response.status_code != 401:
                        problems.append(f"{service}, {mode_name}, {what}: {response.status_code} {response.text[:200]}")
                        continue
                    bodies.add(f"{response.text} | WWW-Authenticate: {response.headers.get('www-authenticate')}")
            # Tokens naming unknown key ids: one refetch of the JWKS at most, not one per token.
            app.state.token_verifier = verifiers[provider.name][0]
            before = len(jwks.fetches)
            for n in range(20):
                row.fuzz_cases += 1
                bad = jwt.encode(good_idp, other_key, algorithm="RS256", headers={"kid": f"unknown-{n}"})
                response = await client.get(path, headers={"Authorization": f"Bearer {bad}"})
                if response.status_code != 401:
                    problems.append(f"{service}, unknown kid {n}: {response.status_code}")
            refetches = len(jwks.fetches) - before
            if refetches > 1:
                problems.append(f"{service}: {refetches} JWKS fetches for 20 tokens of unknown key ids")
    return problems
