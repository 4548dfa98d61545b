"""Renders a notice in the recipient's language from ``templates/<lang>/<template>.txt.j2``.

A template's first line is the subject; the rest (after one blank line) is the body.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from services.notify.domain import Template
from shared.vocabulary import Language

TEMPLATES = Path(__file__).parent / "templates"

OUTCOME_LABELS: dict[Language, dict[str, str]] = {
    Language.FI: {
        "award_winner": "palkinnon voittaja",
        "prize_winner": "palkittu",
        "honourable_mention": "kunniamaininta",
        "finalist": "finalisti",
        "not_awarded": "ei palkintoa",
    },
    Language.SV: {
        "award_winner": "vinnare av utmärkelsen",
        "prize_winner": "pristagare",
        "honourable_mention": "hedersomnämnande",
        "finalist": "finalist",
        "not_awarded": "inget pris",
    },
    Language.EN: {
        "award_winner": "award winner",
        "prize_winner": "prize winner",
        "honourable_mention": "honourable mention",
        "finalist": "finalist",
        "not_awarded": "not awarded",
    },
}

STAGE_LABELS: dict[Language, dict[str, str]] = {
    Language.FI: {
        "opportunity": "mahdollisuus",
        "concept": "konsepti",
        "validation": "validointi",
        "solution": "ratkaisu",
        "deployment": "käyttöönotto",
    },
    Language.SV: {
        "opportunity": "möjlighet",
        "concept": "koncept",
        "validation": "validering",
        "solution": "lösning",
        "deployment": "införande",
    },
    Language.EN: {
        "opportunity": "opportunity",
        "concept": "concept",
        "validation": "validation",
        "solution": "solution",
        "deployment": "deployment",
    },
}


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str


@cache
def _environment() -> Environment:
    # Plain-text email, not HTML: escaping would corrupt names like "Åsa & Co".
    return Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # noqa: S701
    )


def render(template: Template, language: Language, context: dict[str, Any]) -> Rendered:
    lang = Language(language)
    values = {
        **context,
        "outcome_label": OUTCOME_LABELS[lang].get(str(context.get("outcome", "")), context.get("outcome", "")),
        "from_stage_label": STAGE_LABELS[lang].get(str(context.get("from_stage", "")), ""),
        "to_stage_label": STAGE_LABELS[lang].get(str(context.get("to_stage", "")), ""),
    }
    text = _environment().get_template(f"{lang}/{template}.txt.j2").render(values)
    subject, _, body = text.partition("\n")
    return Rendered(subject=subject.strip(), body=body.strip() + "\n")
