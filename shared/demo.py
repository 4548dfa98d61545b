"""The demo people of development: ``make up`` loads data as them and prints their tokens (deploy/demo.py), and
the pages' development sign-in (``KIPINA_DEV_SIGN_IN``, shared/web) lists them.

Here, in ``shared``, because the services' image carries ``shared`` and ``services`` only.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from shared.auth import mint_token
from shared.settings import ServiceSettings

PEOPLE: dict[str, dict[str, Any]] = {
    "operator": {
        "user_id": "demo-operator",
        "roles": ["operator"],
        "organisation_id": "org-kipina",
        "language": "en",
        "name": "Olli Operaattori",
        "email": "operator@kipina.local",
    },
    "submitter": {
        "user_id": "demo-submitter",
        "roles": ["submitter"],
        "organisation_id": "org-example-city",
        "language": "fi",
        "name": "Saara Submitter",
        "email": "saara@example-city.fi",
    },
    "reviewer": {
        "user_id": "demo-reviewer",
        "roles": ["reviewer"],
        "organisation_id": "org-review-board",
        "language": "en",
        "name": "Riku Reviewer",
        "email": "riku@review.example",
    },
    "juror-1": {
        "user_id": "demo-juror-1",
        "roles": ["juror"],
        "organisation_id": "org-jury-a",
        "language": "sv",
        "name": "Johanna Juror",
        "email": "johanna@jury-a.example",
    },
    "juror-2": {
        "user_id": "demo-juror-2",
        "roles": ["juror"],
        "organisation_id": "org-jury-b",
        "language": "en",
        "name": "Jussi Juror",
        "email": "jussi@jury-b.example",
    },
}


def demo_token(who: str, *, settings: ServiceSettings, ttl: timedelta = timedelta(hours=12)) -> str:
    """A token for the demo person ``who`` (a key of ``PEOPLE``), signed with the shared development secret."""
    return mint_token(secret=settings.jwt_secret.get_secret_value(), issuer=settings.jwt_issuer, ttl=ttl, **PEOPLE[who])
