"""The pages' words in Finnish, Swedish and English, and which language a page speaks.

A page speaks, in this order: the language asked for with ``?lang=`` (then remembered in a cookie), the
remembered one, the user's own (the token's ``lang``), the browser's first of fi/sv/en, else Finnish.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from shared.vocabulary import Language, Role

LANGUAGE_COOKIE: Final = "kipina_lang"

LANGUAGE_NAMES: Final[dict[Language, str]] = {Language.FI: "suomi", Language.SV: "svenska", Language.EN: "English"}

MESSAGES: Final[dict[str, dict[Language, str]]] = {
    "skip_to_content": {
        Language.FI: "Siirry sisältöön",
        Language.SV: "Hoppa till innehållet",
        Language.EN: "Skip to content",
    },
    "language": {Language.FI: "Kieli", Language.SV: "Språk", Language.EN: "Language"},
    "sign_in": {Language.FI: "Kirjaudu sisään", Language.SV: "Logga in", Language.EN: "Sign in"},
    "sign_out": {Language.FI: "Kirjaudu ulos", Language.SV: "Logga ut", Language.EN: "Sign out"},
    "sign_in_as": {Language.FI: "Kirjaudu henkilönä", Language.SV: "Logga in som", Language.EN: "Sign in as"},
    "dev_sign_in_intro": {
        Language.FI: "Kehitysympäristön kirjautuminen: valitse demohenkilö.",
        Language.SV: "Inloggning i utvecklingsmiljön: välj en demoperson.",
        Language.EN: "Development sign-in: choose a demo person.",
    },
    "sign_in_elsewhere": {
        Language.FI: "Kirjaudu organisaatiosi kirjautumispalvelun kautta.",
        Language.SV: "Logga in via din organisations inloggningstjänst.",
        Language.EN: "Sign in through your organisation's sign-in service.",
    },
    "sign_in_unavailable": {
        Language.FI: "Kirjautumispalvelua ei ole määritetty. Ota yhteyttä ylläpitoon.",
        Language.SV: "Ingen inloggningstjänst har konfigurerats. Kontakta driften.",
        Language.EN: "No sign-in service is configured. Please contact the operators.",
    },
    "signed_in_as": {
        Language.FI: "Olet kirjautunut:",
        Language.SV: "Du är inloggad som:",
        Language.EN: "Signed in as:",
    },
    "name": {Language.FI: "Nimi", Language.SV: "Namn", Language.EN: "Name"},
    "roles": {Language.FI: "Roolit", Language.SV: "Roller", Language.EN: "Roles"},
    "organisation": {Language.FI: "Organisaatio", Language.SV: "Organisation", Language.EN: "Organisation"},
    "email": {Language.FI: "Sähköposti", Language.SV: "E-post", Language.EN: "Email"},
    "services": {Language.FI: "Kipinän palvelut", Language.SV: "Kipinäs tjänster", Language.EN: "Kipinä's services"},
    "this_service": {Language.FI: "tämä palvelu", Language.SV: "den här tjänsten", Language.EN: "this service"},
    "refused_title": {Language.FI: "Ei pääsyä", Language.SV: "Ingen åtkomst", Language.EN: "Not allowed"},
    "needs_role": {
        Language.FI: "Tämä sivu vaatii roolin: {roles}. Roolisi: {yours}.",
        Language.SV: "Den här sidan kräver rollen: {roles}. Dina roller: {yours}.",
        Language.EN: "This page needs the role: {roles}. Your roles: {yours}.",
    },
    "form_expired_title": {
        Language.FI: "Lomake vanhentui",
        Language.SV: "Formuläret har gått ut",
        Language.EN: "The form has expired",
    },
    "form_expired": {
        Language.FI: "Lomake on vanhentunut tai sitä ei lähettänyt Kipinä; lataa sivu uudelleen ja yritä uudestaan.",
        Language.SV: "Formuläret har gått ut eller skickades inte av Kipinä; ladda om sidan och försök igen.",
        Language.EN: "The form has expired or was not sent by Kipinä; reload and try again.",
    },
    "not_found_title": {Language.FI: "Sivua ei löydy", Language.SV: "Sidan finns inte", Language.EN: "Page not found"},
    "dev_sign_in_off": {
        Language.FI: "Kehitysympäristön kirjautuminen ei ole käytössä.",
        Language.SV: "Inloggningen för utvecklingsmiljön är inte påslagen.",
        Language.EN: "Development sign-in is off.",
    },
    "unknown_person": {
        Language.FI: "Valitse yksi luetelluista henkilöistä.",
        Language.SV: "Välj en av personerna i listan.",
        Language.EN: "Choose one of the listed people.",
    },
    "back_home": {Language.FI: "Etusivulle", Language.SV: "Till startsidan", Language.EN: "Back to the home page"},
    # The operator dashboard (shared/web/ops.py)
    "ops_title": {Language.FI: "Ylläpidon näkymä", Language.SV: "Driftöversikt", Language.EN: "Operator dashboard"},
    "live_note": {
        Language.FI: "Luvut päivittyvät itsestään muutaman sekunnin välein.",
        Language.SV: "Siffrorna uppdateras av sig själva med några sekunders mellanrum.",
        Language.EN: "The figures update themselves every few seconds.",
    },
    "live_noscript": {
        Language.FI: "Ilman JavaScriptiä luvut päivittyvät, kun lataat sivun uudelleen.",
        Language.SV: "Utan JavaScript uppdateras siffrorna när du laddar om sidan.",
        Language.EN: "Without JavaScript, the figures update when you reload the page.",
    },
    "ops_flow": {Language.FI: "Tapahtumavirta", Language.SV: "Händelseflöde", Language.EN: "Event flow"},
    "events_handled": {
        Language.FI: "Käsitellyt tapahtumat",
        Language.SV: "Hanterade händelser",
        Language.EN: "Events handled",
    },
    "outbox_pending": {
        Language.FI: "Julkaisua odottavat tapahtumat",
        Language.SV: "Händelser som väntar på publicering",
        Language.EN: "Outbox rows waiting",
    },
    "outbox_oldest": {
        Language.FI: "Vanhimman odottavan ikä",
        Language.SV: "Den äldsta väntandes ålder",
        Language.EN: "Age of the oldest waiting",
    },
    "seconds": {Language.FI: "{n} s", Language.SV: "{n} s", Language.EN: "{n} s"},
    "dead_letters_waiting": {
        Language.FI: "Epäonnistuneet viestit (dead letters)",
        Language.SV: "Misslyckade meddelanden (dead letters)",
        Language.EN: "Dead letters waiting",
    },
    "consumer_lag": {
        Language.FI: "Lukematta olevat viestit aiheittain",
        Language.SV: "Olästa meddelanden per ämne",
        Language.EN: "Consumer lag per topic",
    },
    "topic": {Language.FI: "Aihe (topic)", Language.SV: "Ämne (topic)", Language.EN: "Topic"},
    "lag": {Language.FI: "Lukematta", Language.SV: "Olästa", Language.EN: "Messages behind"},
    "lag_not_measured": {
        Language.FI: "Ei vielä mitattu.",
        Language.SV: "Inte mätt ännu.",
        Language.EN: "Not measured yet.",
    },
    "dependencies": {Language.FI: "Riippuvuudet", Language.SV: "Beroenden", Language.EN: "Dependencies"},
    "dependency": {Language.FI: "Riippuvuus", Language.SV: "Beroende", Language.EN: "Dependency"},
    "status": {Language.FI: "Tila", Language.SV: "Status", Language.EN: "Status"},
    "dependency.database": {Language.FI: "Tietokanta", Language.SV: "Databas", Language.EN: "Database"},
    "dependency.kafka": {Language.FI: "Kafka", Language.SV: "Kafka", Language.EN: "Kafka"},
    "healthy": {Language.FI: "Vastaa", Language.SV: "Svarar", Language.EN: "Answers"},
    "unhealthy": {Language.FI: "Ei vastaa", Language.SV: "Svarar inte", Language.EN: "Does not answer"},
    "dl_source": {
        Language.FI: "Lähde: aihe / osio / siirtymä",
        Language.SV: "Källa: ämne / partition / offset",
        Language.EN: "Source: topic / partition / offset",
    },
    "dl_error": {Language.FI: "Virhe", Language.SV: "Fel", Language.EN: "Error"},
    "dl_attempts": {Language.FI: "Yrityksiä", Language.SV: "Försök", Language.EN: "Attempts"},
    "dl_failed_at": {Language.FI: "Epäonnistui", Language.SV: "Misslyckades", Language.EN: "Failed at"},
    "dl_payload": {Language.FI: "Sisällön alku", Language.SV: "Innehållets början", Language.EN: "Payload (excerpt)"},
    "actions": {Language.FI: "Toimet", Language.SV: "Åtgärder", Language.EN: "Actions"},
    "replay": {Language.FI: "Käsittele uudelleen", Language.SV: "Kör igen", Language.EN: "Replay"},
    "discard": {Language.FI: "Hylkää", Language.SV: "Kassera", Language.EN: "Discard"},
    "discard_reason": {
        Language.FI: "Hylkäyksen syy",
        Language.SV: "Skäl att kassera",
        Language.EN: "Reason to discard",
    },
    "reason_required": {
        Language.FI: "Kerro, miksi viesti hylätään.",
        Language.SV: "Ange varför meddelandet kasseras.",
        Language.EN: "Say why the dead letter is discarded.",
    },
    "reason_too_long": {
        Language.FI: "Syy saa olla enintään 2000 merkkiä.",
        Language.SV: "Skälet får vara högst 2000 tecken.",
        Language.EN: "The reason may be at most 2000 characters.",
    },
    "dead_letter_unknown": {
        Language.FI: "Viestiä {id} ei ole.",
        Language.SV: "Meddelandet {id} finns inte.",
        Language.EN: "There is no dead letter {id}.",
    },
    "dead_letter_not_waiting": {
        Language.FI: "Viesti {id} on jo käsitelty tai hylätty.",
        Language.SV: "Meddelandet {id} har redan körts igen eller kasserats.",
        Language.EN: "Dead letter {id} was already replayed or discarded.",
    },
    "no_dead_letters": {Language.FI: "Ei odottavia.", Language.SV: "Inga väntande.", Language.EN: "None waiting."},
    "action_log": {Language.FI: "Tehdyt toimet", Language.SV: "Utförda åtgärder", Language.EN: "Actions taken"},
    "no_actions": {Language.FI: "Ei vielä toimia.", Language.SV: "Inga åtgärder ännu.", Language.EN: "None yet."},
    "action_when": {Language.FI: "Milloin", Language.SV: "När", Language.EN: "When"},
    "action_who": {Language.FI: "Kuka", Language.SV: "Vem", Language.EN: "Who"},
    "action_what": {Language.FI: "Toimi", Language.SV: "Åtgärd", Language.EN: "Action"},
    "action_outcome": {Language.FI: "Tulos", Language.SV: "Resultat", Language.EN: "Outcome"},
    "action.replay": {Language.FI: "Uudelleenkäsittely", Language.SV: "Omkörning", Language.EN: "Replay"},
    "action.discard": {Language.FI: "Hylkäys", Language.SV: "Kassering", Language.EN: "Discard"},
    "action_done": {
        Language.FI: "{action}, viesti {id}.",
        Language.SV: "{action}, meddelande {id}.",
        Language.EN: "{action} of dead letter {id}.",
    },
    "ok_outcome": {Language.FI: "Onnistui", Language.SV: "Lyckades", Language.EN: "Done"},
    "failed_outcome": {Language.FI: "Epäonnistui", Language.SV: "Misslyckades", Language.EN: "Failed"},
    "other_dashboards": {
        Language.FI: "Muiden palvelujen näkymät",
        Language.SV: "Andra tjänsters översikter",
        Language.EN: "Other services' dashboards",
    },
    "role.submitter": {Language.FI: "hakija", Language.SV: "sökande", Language.EN: "submitter"},
    "role.reviewer": {Language.FI: "arvioija", Language.SV: "granskare", Language.EN: "reviewer"},
    "role.juror": {Language.FI: "tuomari", Language.SV: "jurymedlem", Language.EN: "juror"},
    "role.operator": {Language.FI: "ylläpitäjä", Language.SV: "operatör", Language.EN: "operator"},
    "service.intake": {Language.FI: "Hakemukset", Language.SV: "Ansökningar", Language.EN: "Intake"},
    "service.review": {Language.FI: "Arviointi", Language.SV: "Granskning", Language.EN: "Review"},
    "service.awards": {Language.FI: "Palkitseminen", Language.SV: "Utmärkelser", Language.EN: "Awards"},
    "service.notify": {Language.FI: "Ilmoitukset", Language.SV: "Aviseringar", Language.EN: "Notify"},
}


class Translator:
    """``t("key", name=...)`` in one language."""

    def __init__(self, language: Language) -> None:
        self.language = language

    def __call__(self, key: str, **values: object) -> str:
        text = MESSAGES[key][self.language]
        return text.format(**values) if values else text

    def role(self, role: Role | str) -> str:
        return self(f"role.{role}")

    def roles(self, roles: Iterable[Role | str]) -> str:
        return ", ".join(self.role(r) for r in sorted(roles)) or "–"


def parse_language(value: str | None) -> Language | None:
    try:
        return Language(value) if value else None
    except ValueError:
        return None


def from_accept_language(header: str) -> Language | None:
    """The first of fi/sv/en the browser lists (``fi-FI,fi;q=0.9,en;q=0.8`` → fi); q-values keep their order."""
    for item in header.split(","):
        language = parse_language(item.split(";")[0].strip().split("-")[0].lower())
        if language is not None:
            return language
    return None


def choose_language(
    *, asked: str | None, remembered: str | None, users: Language | None, accept_language: str
) -> Language:
    return (
        parse_language(asked)
        or parse_language(remembered)
        or users
        or from_accept_language(accept_language)
        or Language.FI
    )
