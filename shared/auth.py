"""Bearer-JWT authentication (PyJWT, HS256) and role checks for FastAPI routes.

A token carries the user's id (``sub``), roles, organisation id (``org``),
preferred language (``lang``), and display name and email. Missing or invalid
token → 401 (``invalid token``, the reason only in the debug log); valid token without the needed role → 403.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import jwt
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from shared.logging import get_logger
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


def decode_token(token: str, *, secret: str, issuer: str = "kipina") -> Principal:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=issuer,
            options={"require": ["sub", "exp", "roles", "org"]},
        )
        return Principal(
            user_id=claims["sub"],
            roles=frozenset(Role(r) for r in claims["roles"]),
            organisation_id=claims["org"],
            language=Language(claims.get("lang", "en")),
            name=claims.get("name", ""),
            email=claims.get("email", ""),
        )
    except (jwt.PyJWTError, ValueError, KeyError, TypeError) as exc:
        raise InvalidToken(str(exc)) from exc


_bearer = HTTPBearer(auto_error=False, description="A Kipinä JWT: `kipina token --role submitter`")


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"})


async def current_principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    if credentials is None:
        raise _unauthorized("missing bearer token")
    settings = request.app.state.settings
    try:
        return decode_token(
            credentials.credentials, secret=settings.jwt_secret.get_secret_value(), issuer=settings.jwt_issuer
        )
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

    async def __call__(self, principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
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
