"""What a token's claims become: the roles Kipinä knows among an identity provider's, the language with or without a
region. What is refused stays refused: no Kipinä role at all, roles of the wrong shape."""

from __future__ import annotations

import jwt
import pytest

from shared.auth import ALGORITHM, AUDIENCE, InvalidToken, decode_token
from shared.vocabulary import Language, Role

SECRET = "a-test-secret-that-is-long-enough-for-hs256"


def _token(**claims: object) -> str:
    base: dict[str, object] = {"sub": "u1", "roles": ["submitter"], "org": "o1", "iss": "kipina", "aud": AUDIENCE}
    base["exp"] = 4_000_000_000
    return jwt.encode({**base, **claims}, SECRET, algorithm=ALGORITHM)


def test_the_providers_own_roles_are_left_out() -> None:
    principal = decode_token(_token(roles=["offline_access", "submitter", "uma_authorization"]), secret=SECRET)
    assert principal.roles == frozenset({Role.SUBMITTER})


@pytest.mark.parametrize(
    "roles",
    [["offline_access"], [], "submitter", [1, "submitter"], None],
    ids=["none ours", "empty", "str", "int", "null"],
)
def test_a_token_without_a_kipina_role_or_with_roles_of_the_wrong_shape_is_refused(roles: object) -> None:
    with pytest.raises(InvalidToken, match="roles"):
        decode_token(_token(roles=roles), secret=SECRET)


@pytest.mark.parametrize(
    ("claim", "language"),
    [
        ("fi", Language.FI),
        ("fi-FI", Language.FI),
        ("sv_FI", Language.SV),
        ("SV-se", Language.SV),
        ("en-GB", Language.EN),
        ("de", Language.EN),
        ("", Language.EN),
        (42, Language.EN),
        (None, Language.EN),
    ],
)
def test_the_language_is_ours_with_or_without_a_region_else_english(claim: object, language: Language) -> None:
    assert decode_token(_token(lang=claim), secret=SECRET).language is language
