"""Bearer-JWT authentication (PyJWT) and role checks for FastAPI routes.

A token carries the user's id (``sub``), roles, organisation id (``org``),
preferred language (``lang``), and display name and email. Missing or invalid
token → 401 (``invalid token``, the reason only in the debug log); valid token without the needed role → 403.

Which tokens are valid is the ``TokenVerifier``'s: RS256 tokens of a real identity provider, whose keys come from
its JWKS URL (``KIPINA_OIDC_*``), or, in development, HS256 tokens signed with the shared secret (docs/pages.md).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import jwt
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from shared.logging import get_logger
from shared.settings import ServiceSettings
from shared.vocabulary import Language, Role

log = get_logger(__name__)

ALGORITHM = "HS256"
AUDIENCE = "kipina"


class Principal(BaseModel):
    """The authenticated user of one request."""

    model_config = ConfigDict(frozen=True)

    user_id: str = Field(min_length=1)
    roles: frozenset[Role]
    organisation_id: str = Field(min_length=1)
    language: Language = Language.EN
    name: str = ""
    email: str = ""

    def has(self, role: Role) -> bool:
        return role in self.roles


def mint_token(
    *,
    secret: str,
    user_id: str,
    roles: list[Role] | list[str],
    organisation_id: str,
    language: Language | str = Language.EN,
    name: str = "",
    email: str = "",
    issuer: str = "kipina",
    ttl: timedelta = timedelta(hours=12),
) -> str:
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": user_id,
        "roles": [str(Role(r)) for r in roles],
        "org": organisation_id,
        "lang": str(Language(language)),
        "name": name,
        "email": email,
        "iss": issuer,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + ttl,
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


class InvalidToken(Exception):
    pass


# The claims Kipinä reads; an identity provider must put them in its tokens (docs/pages.md).
REQUIRED_CLAIMS = ["sub", "exp", "roles", "org"]


_ROLES = {str(r): r for r in Role}
_LANGUAGES = {str(language): language for language in Language}


def _roles(claim: Any) -> frozenset[Role]:
    """Kipinä's roles among the token's. An identity provider often adds its own (``offline_access``,
    ``uma_authorization``): those are not Kipinä's business. A token with none of Kipinä's is refused, so a
    person without a Kipinä role is not "any signed-in user" either."""
    if not isinstance(claim, list) or not all(isinstance(r, str) for r in claim):
        raise ValueError("roles: a list of strings expected")
    known = frozenset(_ROLES[r] for r in claim if r in _ROLES)
    if not known:
        raise ValueError(f"roles: none of {', '.join(_ROLES)}")
    return known


def _language(claim: Any) -> Language:
    """``fi``, ``sv`` or ``en`` from the ``lang`` claim, with a region or not (``fi-FI``, ``sv_FI``); any other
    language, or none, is English (the pages let the person switch)."""
    if not isinstance(claim, str):
        return Language.EN
    return _LANGUAGES.get(claim.replace("_", "-").split("-", 1)[0].lower(), Language.EN)


def _principal(claims: dict[str, Any]) -> Principal:
    return Principal(
        user_id=claims["sub"],
        roles=_roles(claims["roles"]),
        organisation_id=claims["org"],
        language=_language(claims.get("lang")),
        name=claims.get("name", ""),
        email=claims.get("email", ""),
    )


def decode_token(token: str, *, secret: str, issuer: str = "kipina") -> Principal:
    """A development token (HS256, the shared secret) → its principal, or ``InvalidToken``."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=issuer,
            options={"require": REQUIRED_CLAIMS},
        )
        return _principal(claims)
    except (jwt.PyJWTError, ValueError, KeyError, TypeError) as exc:
        raise InvalidToken(str(exc)) from exc


class TokenVerifier:
    """Checks tokens the way the settings say: an identity provider's RS256 keys (JWKS) or the HS256 secret."""

    OIDC_ALGORITHMS = ("RS256",)

    def __init__(self, settings: ServiceSettings) -> None:
        self._settings = settings
        self._jwks: jwt.PyJWKClient | None = None
        if settings.oidc_jwks_url:
            if not (settings.oidc_issuer and settings.oidc_audience):
                raise ValueError("KIPINA_OIDC_JWKS_URL needs KIPINA_OIDC_ISSUER and KIPINA_OIDC_AUDIENCE as well")
            # Keys are cached (and fetched again when a token names an unknown key id, i.e. after a rotation).
            self._jwks = jwt.PyJWKClient(settings.oidc_jwks_url, cache_keys=True, lifespan=3600, timeout=10)

    @property
    def uses_identity_provider(self) -> bool:
        return self._jwks is not None

    async def verify(self, token: str) -> Principal:
        """The token's principal, or ``InvalidToken`` saying why not."""
        if self._jwks is None:
            s = self._settings
            return decode_token(token, secret=s.jwt_secret.get_secret_value(), issuer=s.jwt_issuer)
        try:
            # PyJWKClient fetches over blocking urllib: keep it off the event loop.
            key = await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)
            claims = jwt.decode(
                token,
                key.key,
                algorithms=list(self.OIDC_ALGORITHMS),
                audience=self._settings.oidc_audience,
                issuer=self._settings.oidc_issuer,
                options={"require": REQUIRED_CLAIMS},
            )
            return _principal(claims)
        except (jwt.PyJWTError, ValueError, KeyError, TypeError) as exc:
            raise InvalidToken(str(exc)) from exc


def token_verifier(request: Request) -> TokenVerifier:
    """The app's verifier (made once, on first use: it keeps the identity provider's keys)."""
    verifier: TokenVerifier | None = getattr(request.app.state, "token_verifier", None)
    if verifier is None:
        verifier = request.app.state.token_verifier = TokenVerifier(request.app.state.settings)
    return verifier


_bearer = HTTPBearer(auto_error=False, description="A Kipinä JWT: `kipina token --role submitter`")


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"})


async def current_principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    if credentials is None:
        raise _unauthorized("missing bearer token")
    try:
        return await token_verifier(request).verify(credentials.credentials)
    except InvalidToken as exc:
        # Which check failed (signature, expiry, audience...) is for operators, in the debug log; the caller
        # learns only that the token is not accepted.
        log.debug("bearer token refused", reason=str(exc))
        raise _unauthorized("invalid token") from exc


class RoleCheck:
    """A dependency that admits a principal holding any of ``roles``.

    The roles stay readable on the dependency, so the OpenAPI (shared/openapi.py) says, for every
    operation, which roles it needs, from the same declaration that enforces them.
    """

    def __init__(self, *roles: Role) -> None:
        if not roles:
            raise ValueError("a role check needs at least one role")
        self.roles: tuple[Role, ...] = roles

    async def __call__(
        self, request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
    ) -> Principal:
        # current_principal called here rather than declared as a sub-dependency: one level less for FastAPI to
        # solve on every request (the bearer scheme, and so the OpenAPI's security, is the same).
        principal = await current_principal(request, credentials)
        if not principal.roles.intersection(self.roles):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, detail=f"requires role: {' or '.join(str(r) for r in self.roles)}"
            )
        return principal


def require_roles(*roles: Role) -> RoleCheck:
    """A dependency that admits a principal holding any of ``roles``."""
    return RoleCheck(*roles)


CurrentUser = Annotated[Principal, Depends(current_principal)]
Submitter = Annotated[Principal, Depends(require_roles(Role.SUBMITTER))]
Reviewer = Annotated[Principal, Depends(require_roles(Role.REVIEWER))]
Juror = Annotated[Principal, Depends(require_roles(Role.JUROR))]
Operator = Annotated[Principal, Depends(require_roles(Role.OPERATOR))]
