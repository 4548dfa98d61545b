"""Token verification: the HS256 development secret, or a real identity provider's RS256 keys from its JWKS URL."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI

from shared.auth import CurrentUser, InvalidToken, TokenVerifier, mint_token
from shared.settings import DEV_JWT_SECRET, ServiceSettings
from shared.vocabulary import Language, Role

ISSUER = "https://id.example.fi/realms/kipina"
AUDIENCE = "kipina-pages"


def _rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def provider_key() -> rsa.RSAPrivateKey:
    return _rsa_key()


@pytest.fixture(scope="module")
def jwks_url(provider_key: rsa.RSAPrivateKey) -> Iterator[str]:
    """The identity provider's JWKS endpoint, served from 127.0.0.1."""
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(provider_key.public_key()))
    body = json.dumps({"keys": [{**jwk, "kid": "key-1", "use": "sig", "alg": "RS256"}]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/protocol/openid-connect/certs"
    server.shutdown()


def _oidc_settings(monkeypatch: pytest.MonkeyPatch, jwks_url: str) -> ServiceSettings:
    monkeypatch.setenv("KIPINA_OIDC_JWKS_URL", jwks_url)
    monkeypatch.setenv("KIPINA_OIDC_ISSUER", ISSUER)
    monkeypatch.setenv("KIPINA_OIDC_AUDIENCE", AUDIENCE)
    return ServiceSettings()


def _provider_token(key: rsa.RSAPrivateKey, *, kid: str = "key-1", **overrides: Any) -> str:
    now = datetime.now(UTC)
    claims = {
        "sub": "person-42",
        "roles": ["reviewer"],
        "org": "org-agency",
        "lang": "sv",
        "name": "Vera Granskare",
        "email": "vera@agency.example",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + timedelta(minutes=5),
        **overrides,
    }
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


async def test_development_tokens_are_checked_with_the_shared_secret() -> None:
    verifier = TokenVerifier(ServiceSettings())
    assert not verifier.uses_identity_provider
    token = mint_token(secret=DEV_JWT_SECRET, user_id="u1", roles=[Role.JUROR], organisation_id="o1", language="fi")
    principal = await verifier.verify(token)
    assert (principal.user_id, principal.roles, principal.language) == ("u1", frozenset({Role.JUROR}), Language.FI)
    forged = mint_token(secret="x" * 40, user_id="u1", roles=[Role.OPERATOR], organisation_id="o1")
    with pytest.raises(InvalidToken):
        await verifier.verify(forged)


async def test_identity_provider_tokens_are_checked_with_its_published_keys(
    monkeypatch: pytest.MonkeyPatch, jwks_url: str, provider_key: rsa.RSAPrivateKey
) -> None:
    verifier = TokenVerifier(_oidc_settings(monkeypatch, jwks_url))
    assert verifier.uses_identity_provider
    principal = await verifier.verify(_provider_token(provider_key))
    assert principal.user_id == "person-42"
    assert principal.roles == frozenset({Role.REVIEWER})
    assert (principal.organisation_id, principal.language, principal.name, principal.email) == (
        "org-agency",
        Language.SV,
        "Vera Granskare",
        "vera@agency.example",
    )


@pytest.mark.parametrize(
    "token_of",
    [
        pytest.param(lambda key: _provider_token(key, aud="another-app"), id="another audience"),
        pytest.param(lambda key: _provider_token(key, iss="https://evil.example"), id="another issuer"),
        pytest.param(lambda key: _provider_token(key, exp=datetime.now(UTC) - timedelta(minutes=1)), id="expired"),
        pytest.param(lambda key: _provider_token(_rsa_key()), id="signed by another key"),
        pytest.param(lambda key: _provider_token(key, kid="key-unknown"), id="unknown key id"),
        pytest.param(
            lambda key: mint_token(secret=DEV_JWT_SECRET, user_id="u", roles=["operator"], organisation_id="o"),
            id="a development token",
        ),
    ],
)
async def test_identity_provider_mode_refuses_other_tokens(
    monkeypatch: pytest.MonkeyPatch, jwks_url: str, provider_key: rsa.RSAPrivateKey, token_of: Any
) -> None:
    verifier = TokenVerifier(_oidc_settings(monkeypatch, jwks_url))
    with pytest.raises(InvalidToken):
        await verifier.verify(token_of(provider_key))


def test_a_jwks_url_without_issuer_and_audience_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIPINA_OIDC_JWKS_URL", "http://127.0.0.1:9/certs")
    with pytest.raises(ValueError, match="KIPINA_OIDC_ISSUER"):
        TokenVerifier(ServiceSettings())


async def test_the_api_accepts_the_identity_providers_bearer_tokens(
    monkeypatch: pytest.MonkeyPatch, jwks_url: str, provider_key: rsa.RSAPrivateKey
) -> None:
    app = FastAPI()
    app.state.settings = _oidc_settings(monkeypatch, jwks_url)

    @app.get("/me")
    async def me(user: CurrentUser) -> dict[str, str]:
        return {"user_id": user.user_id}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://unit") as client:
        ok = await client.get("/me", headers={"Authorization": f"Bearer {_provider_token(provider_key)}"})
        assert (ok.status_code, ok.json()) == (200, {"user_id": "person-42"})
        dev = mint_token(secret=DEV_JWT_SECRET, user_id="u", roles=["operator"], organisation_id="o")
        assert (await client.get("/me", headers={"Authorization": f"Bearer {dev}"})).status_code == 401
