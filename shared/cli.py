"""``kipina``: developer commands. ``kipina token`` mints a development JWT for one user."""

from __future__ import annotations

from datetime import timedelta

import typer

from shared.auth import mint_token
from shared.settings import ServiceSettings
from shared.vocabulary import Language, Role

app = typer.Typer(help="Kipinä developer commands.", no_args_is_help=True)


@app.callback()
def main() -> None:
    """Kipinä developer commands."""


@app.command()
def token(
    role: list[Role] = typer.Option(..., "--role", "-r", help="Role(s) the token grants; repeat for several."),
    user: str = typer.Option("dev-user", "--user", "-u", help="User id (the token's subject)."),
    org: str = typer.Option("org-dev", "--org", "-o", help="Organisation id of the user."),
    lang: Language = typer.Option(Language.EN, "--lang", "-l", help="Preferred language."),
    name: str = typer.Option("", help="Display name."),
    email: str = typer.Option("", help="Email address."),
    hours: float = typer.Option(12.0, help="Lifetime in hours."),
) -> None:
    """Print a signed bearer token (secret from KIPINA_JWT_SECRET, else the development secret)."""
    settings = ServiceSettings()
    typer.echo(
        mint_token(
            secret=settings.jwt_secret.get_secret_value(),
            issuer=settings.jwt_issuer,
            user_id=user,
            roles=list(role),
            organisation_id=org,
            language=lang,
            name=name,
            email=email,
            ttl=timedelta(hours=hours),
        )
    )


if __name__ == "__main__":
    app()
