"""The pages' words in Finnish, Swedish and English, and which language a page speaks.

A page speaks, in this order: the language asked for with ``?lang=`` (then remembered in a cookie), the
remembered one, the user's own (the token's ``lang``), the browser's first of fi/sv/en, else Finnish.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum
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
    "your_pages": {Language.FI: "Työsi", Language.SV: "Ditt arbete", Language.EN: "Your work"},
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
    "refused": {Language.FI: "Ei onnistunut", Language.SV: "Det gick inte", Language.EN: "Not possible"},
    "not_found": {
        Language.FI: "Tässä osoitteessa ei ole mitään. Tarkista osoite tai palaa etusivulle.",
        Language.SV: "Det finns inget på den här adressen. Kontrollera adressen eller gå tillbaka till startsidan.",
        Language.EN: "Nothing is at this address. Check the address, or go back to the home page.",
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
    # ---- the workbenches' labels: statuses, categories, stages, timeline, partners, held tasks ----
    # Labels of the fixed vocabularies (Translator.label, VOCABULARIES below): a value without words shows its code.
    "label.category.public_sector": {
        Language.FI: "Julkinen sektori",
        Language.SV: "Offentlig sektor",
        Language.EN: "Public sector",
    },
    "label.category.education": {Language.FI: "Koulutus", Language.SV: "Utbildning", Language.EN: "Education"},
    "label.category.health_care": {
        Language.FI: "Sosiaali- ja terveydenhuolto",
        Language.SV: "Social- och hälsovård",
        Language.EN: "Health and social care",
    },
    "label.category.responsible_renewable": {
        Language.FI: "Vastuullinen ja uusiutuva innovaatio",
        Language.SV: "Ansvarsfull och förnybar innovation",
        Language.EN: "Responsible and renewable innovation",
    },
    "label.category.potential_innovations": {
        Language.FI: "Potentiaaliset innovaatiot",
        Language.SV: "Potentiella innovationer",
        Language.EN: "Potential innovations",
    },
    "label.category.business_micro": {
        Language.FI: "Mikroyritykset",
        Language.SV: "Mikroföretag",
        Language.EN: "Micro enterprises",
    },
    "label.category.business_sme": {
        Language.FI: "Pienet ja keskisuuret yritykset",
        Language.SV: "Små och medelstora företag",
        Language.EN: "Small and medium-sized enterprises",
    },
    "label.category.business_large": {
        Language.FI: "Suuryritykset",
        Language.SV: "Stora företag",
        Language.EN: "Large enterprises",
    },
    "label.iso_stage.opportunity": {Language.FI: "Mahdollisuus", Language.SV: "Möjlighet", Language.EN: "Opportunity"},
    "label.iso_stage.concept": {Language.FI: "Konsepti", Language.SV: "Koncept", Language.EN: "Concept"},
    "label.iso_stage.validation": {Language.FI: "Validointi", Language.SV: "Validering", Language.EN: "Validation"},
    "label.iso_stage.solution": {Language.FI: "Ratkaisu", Language.SV: "Lösning", Language.EN: "Solution"},
    "label.iso_stage.deployment": {Language.FI: "Käyttöönotto", Language.SV: "Införande", Language.EN: "Deployment"},
    "label.language.fi": {Language.FI: "suomi", Language.SV: "finska", Language.EN: "Finnish"},
    "label.language.sv": {Language.FI: "ruotsi", Language.SV: "svenska", Language.EN: "Swedish"},
    "label.language.en": {Language.FI: "englanti", Language.SV: "engelska", Language.EN: "English"},
    "label.task_status.queued": {Language.FI: "Jonossa", Language.SV: "I kön", Language.EN: "Queued"},
    "label.task_status.claimed": {Language.FI: "Varattu", Language.SV: "Reserverad", Language.EN: "Claimed"},
    "label.task_status.decided": {Language.FI: "Päätetty", Language.SV: "Beslutad", Language.EN: "Decided"},
    "label.task_status.cancelled": {Language.FI: "Peruttu", Language.SV: "Annullerad", Language.EN: "Cancelled"},
    "label.evaluation_status.open": {Language.FI: "Avoinna", Language.SV: "Öppen", Language.EN: "Open"},
    "label.evaluation_status.decided": {Language.FI: "Päätetty", Language.SV: "Beslutad", Language.EN: "Decided"},
    "label.evaluation_status.published": {
        Language.FI: "Julkaistu",
        Language.SV: "Publicerad",
        Language.EN: "Published",
    },
    "label.evaluation_status.withdrawn": {Language.FI: "Peruttu", Language.SV: "Återtagen", Language.EN: "Withdrawn"},
    "label.round_outcome.changes_requested": {
        Language.FI: "Muutoksia pyydetty",
        Language.SV: "Ändringar begärda",
        Language.EN: "Changes requested",
    },
    "label.round_outcome.advanced": {
        Language.FI: "Seuraavaan vaiheeseen",
        Language.SV: "Till nästa fas",
        Language.EN: "Advanced to the next stage",
    },
    "label.round_outcome.nominated": {
        Language.FI: "Ehdolle palkintoon",
        Language.SV: "Nominerad till utmärkelsen",
        Language.EN: "Nominated for the award",
    },
    "label.point_status.open": {Language.FI: "avoinna", Language.SV: "öppen", Language.EN: "open"},
    "label.point_status.addressed": {Language.FI: "korjattu", Language.SV: "åtgärdad", Language.EN: "addressed"},
    # Review's checklists (services/review/domain.py CHECKLISTS): the English words are the items themselves.
    "label.checklist.problem is evidenced": {
        Language.FI: "ongelma on osoitettu näytöllä",
        Language.SV: "problemet är belagt",
        Language.EN: "problem is evidenced",
    },
    "label.checklist.users identified": {
        Language.FI: "käyttäjät on tunnistettu",
        Language.SV: "användarna är identifierade",
        Language.EN: "users identified",
    },
    "label.checklist.opportunity fits the call": {
        Language.FI: "mahdollisuus sopii hakuun",
        Language.SV: "möjligheten passar utlysningen",
        Language.EN: "opportunity fits the call",
    },
    "label.checklist.value for the public is plausible": {
        Language.FI: "hyöty kansalaisille on uskottava",
        Language.SV: "nyttan för allmänheten är trovärdig",
        Language.EN: "value for the public is plausible",
    },
    "label.checklist.solution concept is described": {
        Language.FI: "ratkaisukonsepti on kuvattu",
        Language.SV: "lösningskonceptet är beskrivet",
        Language.EN: "solution concept is described",
    },
    "label.checklist.novelty compared to existing practice": {
        Language.FI: "uutuus nykyiseen käytäntöön verrattuna",
        Language.SV: "nyhetsvärde jämfört med nuvarande praxis",
        Language.EN: "novelty compared to existing practice",
    },
    "label.checklist.users involved in shaping the concept": {
        Language.FI: "käyttäjät ovat olleet mukana muotoilemassa konseptia",
        Language.SV: "användarna har varit med och format konceptet",
        Language.EN: "users involved in shaping the concept",
    },
    "label.checklist.main risks identified": {
        Language.FI: "keskeiset riskit on tunnistettu",
        Language.SV: "de viktigaste riskerna är identifierade",
        Language.EN: "main risks identified",
    },
    "label.checklist.concept tested with real users": {
        Language.FI: "konseptia on testattu todellisilla käyttäjillä",
        Language.SV: "konceptet är testat med verkliga användare",
        Language.EN: "concept tested with real users",
    },
    "label.checklist.evidence of results is presented": {
        Language.FI: "tuloksista esitetään näyttöä",
        Language.SV: "belägg för resultaten presenteras",
        Language.EN: "evidence of results is presented",
    },
    "label.checklist.learning from tests is documented": {
        Language.FI: "testeistä opittu on dokumentoitu",
        Language.SV: "lärdomarna från testerna är dokumenterade",
        Language.EN: "learning from tests is documented",
    },
    "label.checklist.feasibility and cost are assessed": {
        Language.FI: "toteutettavuus ja kustannukset on arvioitu",
        Language.SV: "genomförbarhet och kostnader är bedömda",
        Language.EN: "feasibility and cost are assessed",
    },
    "label.checklist.solution is developed and working": {
        Language.FI: "ratkaisu on kehitetty ja toimii",
        Language.SV: "lösningen är utvecklad och fungerar",
        Language.EN: "solution is developed and working",
    },
    "label.checklist.implementation plan and resources exist": {
        Language.FI: "toteutussuunnitelma ja resurssit ovat olemassa",
        Language.SV: "genomförandeplan och resurser finns",
        Language.EN: "implementation plan and resources exist",
    },
    "label.checklist.benefits are measurable": {
        Language.FI: "hyödyt ovat mitattavissa",
        Language.SV: "nyttan är mätbar",
        Language.EN: "benefits are measurable",
    },
    "label.checklist.partners and stakeholders committed": {
        Language.FI: "kumppanit ja sidosryhmät ovat sitoutuneet",
        Language.SV: "partner och intressenter har förbundit sig",
        Language.EN: "partners and stakeholders committed",
    },
    "label.checklist.solution is in use": {
        Language.FI: "ratkaisu on käytössä",
        Language.SV: "lösningen används",
        Language.EN: "solution is in use",
    },
    "label.checklist.impact is measured": {
        Language.FI: "vaikuttavuutta mitataan",
        Language.SV: "effekten mäts",
        Language.EN: "impact is measured",
    },
    "label.checklist.lessons are shared with others": {
        Language.FI: "opit jaetaan muille",
        Language.SV: "lärdomarna delas med andra",
        Language.EN: "lessons are shared with others",
    },
    "label.checklist.solution is sustainable or scalable": {
        Language.FI: "ratkaisu on kestävä tai skaalautuva",
        Language.SV: "lösningen är hållbar eller skalbar",
        Language.EN: "solution is sustainable or scalable",
    },
    # A case's timeline (services/intake/pages.py timeline_text): "{note}" is ": <the person's own text>" or nothing.
    "timeline.submitted": {Language.FI: "Hakemus lähetetty", Language.SV: "Ansökan inlämnad", Language.EN: "Submitted"},
    "timeline.revised": {
        Language.FI: "Versio {revision} lähetetty{note}",
        Language.SV: "Version {revision} inlämnad{note}",
        Language.EN: "Revision {revision} submitted{note}",
    },
    "timeline.withdrawn": {
        Language.FI: "Hakija perui hakemuksen{note}",
        Language.SV: "Sökanden återtog ansökan{note}",
        Language.EN: "Withdrawn by the submitter{note}",
    },
    "timeline.iteration_opened": {
        Language.FI: "Arviointikierros {iteration} alkoi, vaihe: {stage} (versio {revision})",
        Language.SV: "Granskningsomgång {iteration} inleddes, fas: {stage} (version {revision})",
        Language.EN: "Review iteration {iteration} opened, stage: {stage} (revision {revision})",
    },
    "timeline.changes_requested": {
        Language.FI: "Muutoksia pyydettiin kierroksella {iteration}{note}",
        Language.SV: "Ändringar begärdes i omgång {iteration}{note}",
        Language.EN: "Changes requested in iteration {iteration}{note}",
    },
    "timeline.stage_advanced": {
        Language.FI: "Siirtyi seuraavaan vaiheeseen: {from_stage} → {to_stage}",
        Language.SV: "Gick vidare till nästa fas: {from_stage} → {to_stage}",
        Language.EN: "Advanced to the next stage: {from_stage} → {to_stage}",
    },
    "timeline.rejected": {
        Language.FI: "Hylättiin arviointikierroksella {iteration}{note}",
        Language.SV: "Avslogs i granskningsomgång {iteration}{note}",
        Language.EN: "Rejected in review iteration {iteration}{note}",
    },
    "timeline.nominated": {
        Language.FI: "Ehdolla palkintoon: tuomaristo arvioi hakemuksen",
        Language.SV: "Nominerad till utmärkelsen: juryn bedömer ansökan",
        Language.EN: "Nominated for award evaluation",
    },
    "timeline.escalated": {
        Language.FI: "Arviointikierros {iteration} on myöhässä, ja asia siirrettiin eteenpäin",
        Language.SV: "Granskningsomgång {iteration} är försenad och eskalerades",
        Language.EN: "Review iteration {iteration} is overdue and was escalated",
    },
    "timeline.evaluation_opened": {
        Language.FI: "Tuomariston arviointi alkoi ({criteria} kriteeriä)",
        Language.SV: "Juryns bedömning inleddes ({criteria} kriterier)",
        Language.EN: "Award evaluation opened with {criteria} criteria",
    },
    "timeline.decided": {
        Language.FI: "Palkintopäätös: {outcome}",
        Language.SV: "Beslut om utmärkelsen: {outcome}",
        Language.EN: "Award decision: {outcome}",
    },
    "timeline.results_published": {
        Language.FI: "Tulokset julkaistu: {outcome}",
        Language.SV: "Resultaten publicerade: {outcome}",
        Language.EN: "Results published: {outcome}",
    },
    # Partners on the submission form and the submitter's case page.
    "sub.f.partners": {Language.FI: "Kumppanit", Language.SV: "Partner", Language.EN: "Partners"},
    "sub.f.partner_name": {
        Language.FI: "Kumppani {n}: nimi",
        Language.SV: "Partner {n}: namn",
        Language.EN: "Partner {n}: name",
    },
    "sub.f.partner_email": {
        Language.FI: "Kumppani {n}: sähköposti",
        Language.SV: "Partner {n}: e-post",
        Language.EN: "Partner {n}: email",
    },
    "sub.f.partner_role": {
        Language.FI: "Kumppani {n}: rooli",
        Language.SV: "Partner {n}: roll",
        Language.EN: "Partner {n}: role",
    },
    "sub.partners_hint": {
        Language.FI: "Muut organisaatiot tai henkilöt, joiden kanssa innovaatio on tehty.",
        Language.SV: "Andra organisationer eller personer som innovationen har gjorts tillsammans med.",
        Language.EN: "Other organisations or people the innovation was made with.",
    },
    "sub.none": {Language.FI: "Ei ketään", Language.SV: "Ingen", Language.EN: "None"},
    # The reviewer's held tasks (services/review/pages.py) and a task's status.
    "rev.held_tasks": {
        Language.FI: "Sinulle varatut tehtävät",
        Language.SV: "Uppgifter som du har reserverat",
        Language.EN: "Tasks you hold",
    },
    "rev.held_caption": {
        Language.FI: "Varatut tehtäväsi nyt ({total})",
        Language.SV: "Dina reserverade uppgifter nu ({total})",
        Language.EN: "The tasks you hold now ({total})",
    },
    "rev.no_held_tasks": {
        Language.FI: "Sinulla ei ole nyt varattuja tehtäviä.",
        Language.SV: "Du har inga reserverade uppgifter nu.",
        Language.EN: "You hold no task now.",
    },
    "rev.case": {Language.FI: "Hakemus", Language.SV: "Ansökan", Language.EN: "Case"},
    "rev.lease_ran_out": {
        Language.FI: "Varaus päättyi; ota tehtävä uudelleen",
        Language.SV: "Reservationen har gått ut; ta uppgiften igen",
        Language.EN: "The lease ran out; claim the task again",
    },
    "rev.task_status": {Language.FI: "Tehtävän tila", Language.SV: "Uppgiftens status", Language.EN: "Task status"},
    # The submitter's workbench (services/intake/pages.py) and the reviewer's (services/review/pages.py).
    "sub.workbench": {
        Language.FI: "Hakijan työpöytä",
        Language.SV: "Sökandens arbetsyta",
        Language.EN: "Submitter's workbench",
    },
    "sub.open_calls": {Language.FI: "Avoimet haut", Language.SV: "Öppna utlysningar", Language.EN: "Open calls"},
    "sub.no_open_calls": {
        Language.FI: "Yksikään haku ei ole nyt avoinna.",
        Language.SV: "Ingen utlysning är öppen nu.",
        Language.EN: "No call is open now.",
    },
    "sub.window": {Language.FI: "Hakuaika", Language.SV: "Ansökningstid", Language.EN: "Open"},
    "sub.categories": {Language.FI: "Sarjat", Language.SV: "Kategorier", Language.EN: "Categories"},
    "sub.submit_to": {
        Language.FI: "Jätä hakemus hakuun {title}",
        Language.SV: "Lämna in en ansökan till {title}",
        Language.EN: "Submit a case to {title}",
    },
    "sub.new_case": {Language.FI: "Uusi hakemus", Language.SV: "Ny ansökan", Language.EN: "New case"},
    "sub.fix_fields": {
        Language.FI: "Tarkista merkityt kentät.",
        Language.SV: "Kontrollera de markerade fälten.",
        Language.EN: "Please correct the marked fields.",
    },
    "sub.f.title": {Language.FI: "Otsikko", Language.SV: "Rubrik", Language.EN: "Title"},
    "sub.f.summary": {Language.FI: "Tiivistelmä", Language.SV: "Sammanfattning", Language.EN: "Summary"},
    "sub.f.problem": {Language.FI: "Ongelma", Language.SV: "Problem", Language.EN: "Problem"},
    "sub.f.solution": {Language.FI: "Ratkaisu", Language.SV: "Lösning", Language.EN: "Solution"},
    "sub.f.organisation": {Language.FI: "Organisaatio", Language.SV: "Organisation", Language.EN: "Organisation"},
    "sub.f.organisation_name": {
        Language.FI: "Organisaation nimi",
        Language.SV: "Organisationens namn",
        Language.EN: "Organisation's name",
    },
    "sub.f.business_id": {
        Language.FI: "Y-tunnus",
        Language.SV: "FO-nummer (Y-tunnus)",
        Language.EN: "Business ID (Y-tunnus)",
    },
    "sub.f.team": {Language.FI: "Tiimi", Language.SV: "Team", Language.EN: "Team"},
    "sub.f.member_name": {
        Language.FI: "Jäsen {n}: nimi",
        Language.SV: "Medlem {n}: namn",
        Language.EN: "Member {n}: name",
    },
    "sub.f.member_email": {
        Language.FI: "Jäsen {n}: sähköposti",
        Language.SV: "Medlem {n}: e-post",
        Language.EN: "Member {n}: email",
    },
    "sub.f.member_role": {
        Language.FI: "Jäsen {n}: rooli",
        Language.SV: "Medlem {n}: roll",
        Language.EN: "Member {n}: role",
    },
    "sub.f.category": {Language.FI: "Sarja", Language.SV: "Kategori", Language.EN: "Category"},
    "sub.f.language": {
        Language.FI: "Hakemuksen kieli",
        Language.SV: "Ansökans språk",
        Language.EN: "Language of the case",
    },
    "sub.f.oecd": {Language.FI: "OECD:n periaatteet", Language.SV: "OECD:s principer", Language.EN: "OECD principles"},
    "sub.oecd.1": {
        Language.FI: "Omaksu ja vahvista",
        Language.SV: "Omfamna och förstärk",
        Language.EN: "Embrace and enhance",
    },
    "sub.oecd.2": {
        Language.FI: "Kannusta ja varusta",
        Language.SV: "Uppmuntra och utrusta",
        Language.EN: "Encourage and equip",
    },
    "sub.oecd.3": {
        Language.FI: "Viljele kumppanuuksia",
        Language.SV: "Odla partnerskap",
        Language.EN: "Cultivate partnerships",
    },
    "sub.oecd.4": {Language.FI: "Tue kokeilua", Language.SV: "Stöd utforskande", Language.EN: "Support exploration"},
    "sub.oecd.5": {Language.FI: "Levitä opit", Language.SV: "Sprid lärdomar", Language.EN: "Diffuse lessons"},
    "sub.f.iso_stage": {Language.FI: "ISO 56002 -vaihe", Language.SV: "ISO 56002-fas", Language.EN: "ISO 56002 stage"},
    "sub.f.drivers": {Language.FI: "Ajurit", Language.SV: "Drivkrafter", Language.EN: "Drivers"},
    "sub.f.obstacles": {Language.FI: "Esteet", Language.SV: "Hinder", Language.EN: "Obstacles"},
    "sub.one_per_line": {Language.FI: "Yksi riville.", Language.SV: "En per rad.", Language.EN: "One per line."},
    "sub.submit": {Language.FI: "Lähetä hakemus", Language.SV: "Skicka ansökan", Language.EN: "Submit the case"},
    "sub.my_cases": {Language.FI: "Omat hakemukset", Language.SV: "Mina ansökningar", Language.EN: "My cases"},
    "sub.no_cases": {
        Language.FI: "Sinulla ei ole vielä hakemuksia.",
        Language.SV: "Du har inga ansökningar än.",
        Language.EN: "You have no cases yet.",
    },
    "sub.my_cases_caption": {
        Language.FI: "Hakemuksesi ({total})",
        Language.SV: "Dina ansökningar ({total})",
        Language.EN: "Your cases ({total})",
    },
    "sub.call": {Language.FI: "Haku", Language.SV: "Utlysning", Language.EN: "Call"},
    "sub.status": {Language.FI: "Tila", Language.SV: "Status", Language.EN: "Status"},
    "sub.stage": {Language.FI: "Vaihe", Language.SV: "Fas", Language.EN: "Stage"},
    "sub.revision": {Language.FI: "Versio", Language.SV: "Version", Language.EN: "Revision"},
    "sub.iteration": {Language.FI: "Kierros", Language.SV: "Omgång", Language.EN: "Iteration"},
    "sub.status.submitted": {Language.FI: "Lähetetty", Language.SV: "Inlämnad", Language.EN: "Submitted"},
    "sub.status.in_review": {Language.FI: "Arvioitavana", Language.SV: "Under granskning", Language.EN: "In review"},
    "sub.status.changes_requested": {
        Language.FI: "Muutoksia pyydetty",
        Language.SV: "Ändringar begärda",
        Language.EN: "Changes requested",
    },
    "sub.status.revised": {Language.FI: "Korjattu", Language.SV: "Reviderad", Language.EN: "Revised"},
    "sub.status.nominated": {Language.FI: "Ehdolla", Language.SV: "Nominerad", Language.EN: "Nominated"},
    "sub.status.in_evaluation": {
        Language.FI: "Tuomariston arvioitavana",
        Language.SV: "Under juryns bedömning",
        Language.EN: "In evaluation",
    },
    "sub.status.decided": {Language.FI: "Päätetty", Language.SV: "Beslutad", Language.EN: "Decided"},
    "sub.status.published": {
        Language.FI: "Tulokset julkaistu",
        Language.SV: "Resultat publicerade",
        Language.EN: "Results published",
    },
    "sub.status.rejected": {Language.FI: "Hylätty", Language.SV: "Avslagen", Language.EN: "Rejected"},
    "sub.status.withdrawn": {Language.FI: "Peruttu", Language.SV: "Återtagen", Language.EN: "Withdrawn"},
    "sub.done.submitted": {
        Language.FI: "Hakemus on lähetetty.",
        Language.SV: "Ansökan har skickats.",
        Language.EN: "Your case was submitted.",
    },
    "sub.done.revised": {
        Language.FI: "Korjattu versio on lähetetty.",
        Language.SV: "Den reviderade versionen har skickats.",
        Language.EN: "Your revision was sent.",
    },
    "sub.done.withdrawn": {
        Language.FI: "Hakemus on peruttu.",
        Language.SV: "Ansökan har återtagits.",
        Language.EN: "Your case was withdrawn.",
    },
    "sub.outcome": {Language.FI: "Tulos", Language.SV: "Resultat", Language.EN: "Outcome"},
    "sub.outcome.award_winner": {
        Language.FI: "Palkinnon voittaja",
        Language.SV: "Vinnare av utmärkelsen",
        Language.EN: "Award winner",
    },
    "sub.outcome.prize_winner": {Language.FI: "Palkittu", Language.SV: "Pristagare", Language.EN: "Prize winner"},
    "sub.outcome.honourable_mention": {
        Language.FI: "Kunniamaininta",
        Language.SV: "Hedersomnämnande",
        Language.EN: "Honourable mention",
    },
    "sub.outcome.finalist": {Language.FI: "Finalisti", Language.SV: "Finalist", Language.EN: "Finalist"},
    "sub.outcome.not_awarded": {Language.FI: "Ei palkittu", Language.SV: "Inte belönad", Language.EN: "Not awarded"},
    "sub.jury_feedback": {
        Language.FI: "Tuomariston palaute",
        Language.SV: "Juryns återkoppling",
        Language.EN: "The jury's feedback",
    },
    "sub.feedback_points": {
        Language.FI: "Arvioijien palaute",
        Language.SV: "Granskarnas återkoppling",
        Language.EN: "Reviewers' feedback",
    },
    "sub.no_feedback": {Language.FI: "Ei palautetta.", Language.SV: "Ingen återkoppling.", Language.EN: "No feedback."},
    "sub.feedback_caption": {
        Language.FI: "Palautekohdat (avoinna {open})",
        Language.SV: "Återkopplingspunkter ({open} öppna)",
        Language.EN: "Feedback points ({open} open)",
    },
    "sub.checklist_item": {Language.FI: "Tarkistuskohta", Language.SV: "Kontrollpunkt", Language.EN: "Checklist item"},
    "sub.comment": {Language.FI: "Kommentti", Language.SV: "Kommentar", Language.EN: "Comment"},
    "sub.point_open": {Language.FI: "Avoinna", Language.SV: "Öppen", Language.EN: "Open"},
    "sub.addressed_in": {
        Language.FI: "Korjattu versiossa {revision}",
        Language.SV: "Åtgärdad i version {revision}",
        Language.EN: "Addressed in revision {revision}",
    },
    "sub.revise": {Language.FI: "Korjaa hakemusta", Language.SV: "Revidera ansökan", Language.EN: "Revise the case"},
    "sub.addresses": {
        Language.FI: "Mihin palautekohtiin korjaus vastaa",
        Language.SV: "Vilka punkter revideringen åtgärdar",
        Language.EN: "Feedback points this revision addresses",
    },
    "sub.change_note": {
        Language.FI: "Muutosten kuvaus",
        Language.SV: "Beskrivning av ändringarna",
        Language.EN: "What changed",
    },
    "sub.send_revision": {
        Language.FI: "Lähetä korjattu versio",
        Language.SV: "Skicka den reviderade versionen",
        Language.EN: "Send the revision",
    },
    "sub.timeline": {Language.FI: "Aikajana", Language.SV: "Tidslinje", Language.EN: "Timeline"},
    "sub.withdraw": {Language.FI: "Peru hakemus", Language.SV: "Återta ansökan", Language.EN: "Withdraw the case"},
    "sub.withdraw_reason": {Language.FI: "Syy", Language.SV: "Orsak", Language.EN: "Reason"},
    "sub.withdraw_confirm": {
        Language.FI: "Haluan perua hakemuksen. Perumista ei voi peruuttaa.",
        Language.SV: "Jag vill återta ansökan. Det kan inte ångras.",
        Language.EN: "I want to withdraw the case. This cannot be undone.",
    },
    "sub.confirm_needed": {
        Language.FI: "Vahvista peruminen rastittamalla ruutu.",
        Language.SV: "Bekräfta återtagandet genom att kryssa i rutan.",
        Language.EN: "Tick the box to confirm the withdrawal.",
    },
    "rev.workbench": {
        Language.FI: "Arvioijan työpöytä",
        Language.SV: "Granskarens arbetsyta",
        Language.EN: "Reviewer's workbench",
    },
    "rev.claim_intro": {
        Language.FI: "Ota jonosta seuraava tehtävä (määräaika lähimpänä). Oman organisaatiosi hakemuksia et saa.",
        Language.SV: "Ta nästa uppgift i kön (förfaller först). Du får inga ansökningar från din egen organisation.",
        Language.EN: "Take the next task from the queue (due first). You never get cases of your own organisation.",
    },
    "rev.claim_next": {
        Language.FI: "Ota seuraava tehtävä",
        Language.SV: "Ta nästa uppgift",
        Language.EN: "Claim the next task",
    },
    "rev.done.decided": {
        Language.FI: "Päätös on kirjattu.",
        Language.SV: "Beslutet har registrerats.",
        Language.EN: "Your decision was recorded.",
    },
    "rev.done.released": {
        Language.FI: "Tehtävä palautettiin jonoon.",
        Language.SV: "Uppgiften lämnades tillbaka till kön.",
        Language.EN: "The task went back to the queue.",
    },
    "rev.done.none_available": {
        Language.FI: "Jonossa ei ole nyt sinulle tehtävää.",
        Language.SV: "Det finns ingen uppgift för dig i kön nu.",
        Language.EN: "No task is available to you now.",
    },
    "rev.due": {Language.FI: "Määräaika", Language.SV: "Förfaller", Language.EN: "Due"},
    "rev.lease_until": {
        Language.FI: "Varattu sinulle asti",
        Language.SV: "Reserverad åt dig till",
        Language.EN: "Yours until",
    },
    "rev.the_case": {Language.FI: "Hakemus", Language.SV: "Ansökan", Language.EN: "The case"},
    "rev.open_points": {
        Language.FI: "Avoimet palautekohdat",
        Language.SV: "Öppna återkopplingspunkter",
        Language.EN: "Open feedback points",
    },
    "rev.no_open_points": {
        Language.FI: "Ei avoimia palautekohtia.",
        Language.SV: "Inga öppna punkter.",
        Language.EN: "No open feedback points.",
    },
    "rev.earlier": {
        Language.FI: "Aiemmat kierrokset",
        Language.SV: "Tidigare omgångar",
        Language.EN: "Earlier iterations",
    },
    "rev.met": {Language.FI: "täyttyy", Language.SV: "uppfyllt", Language.EN: "met"},
    "rev.not_met": {Language.FI: "ei täyty", Language.SV: "inte uppfyllt", Language.EN: "not met"},
    "rev.decide": {
        Language.FI: "Arvio ja päätös",
        Language.SV: "Bedömning och beslut",
        Language.EN: "Review and decide",
    },
    "rev.checklist": {
        Language.FI: "Vaiheen {stage} tarkistuslista",
        Language.SV: "Checklista för fasen {stage}",
        Language.EN: "The {stage} stage's checklist",
    },
    "rev.met_q": {Language.FI: "Täyttyykö?", Language.SV: "Uppfyllt?", Language.EN: "Met?"},
    "rev.met_about": {Language.FI: "Täyttyykö: {item}", Language.SV: "Uppfyllt: {item}", Language.EN: "Met: {item}"},
    "rev.met_yes_about": {Language.FI: "Kyllä: {item}", Language.SV: "Ja: {item}", Language.EN: "Yes: {item}"},
    "rev.met_no_about": {Language.FI: "Ei: {item}", Language.SV: "Nej: {item}", Language.EN: "No: {item}"},
    "rev.comment_about": {
        Language.FI: "Kommentti: {item}",
        Language.SV: "Kommentar: {item}",
        Language.EN: "Comment: {item}",
    },
    "rev.yes": {Language.FI: "Kyllä", Language.SV: "Ja", Language.EN: "Yes"},
    "rev.no": {Language.FI: "Ei", Language.SV: "Nej", Language.EN: "No"},
    "rev.decision": {Language.FI: "Päätös", Language.SV: "Beslut", Language.EN: "Decision"},
    "rev.decision.request_changes": {
        Language.FI: "Pyydä muutoksia",
        Language.SV: "Begär ändringar",
        Language.EN: "Request changes",
    },
    "rev.decision.advance": {
        Language.FI: "Seuraavaan vaiheeseen",
        Language.SV: "Till nästa fas",
        Language.EN: "Advance the stage",
    },
    "rev.decision.reject": {Language.FI: "Hylkää", Language.SV: "Avslå", Language.EN: "Reject"},
    "rev.decision.nominate": {
        Language.FI: "Ehdolle palkintoon",
        Language.SV: "Nominera till utmärkelsen",
        Language.EN: "Nominate for the award",
    },
    "rev.decision_comment": {Language.FI: "Perustelut", Language.SV: "Motivering", Language.EN: "Reasons"},
    "rev.send_decision": {
        Language.FI: "Kirjaa päätös",
        Language.SV: "Registrera beslutet",
        Language.EN: "Record the decision",
    },
    "rev.release": {
        Language.FI: "Palauta tehtävä jonoon",
        Language.SV: "Lämna tillbaka uppgiften",
        Language.EN: "Release the task",
    },
    # ---- awards pages: the juror's workbench and the operator's jury, criteria, leaderboard, decisions ----
    "awards.addressed_in": {
        Language.FI: "korjattu versiossa {n}",
        Language.SV: "åtgärdad i version {n}",
        Language.EN: "addressed in revision {n}",
    },
    "awards.assigned_cases": {
        Language.FI: "tapauksia: {n}",
        Language.SV: "ärenden: {n}",
        Language.EN: "cases: {n}",
    },
    "awards.assignments_caption": {
        Language.FI: "Sinulle osoitetut tapaukset ({total})",
        Language.SV: "Ärenden tilldelade dig ({total})",
        Language.EN: "Cases assigned to you ({total})",
    },
    "awards.call": {
        Language.FI: "Haku",
        Language.SV: "Utlysning",
        Language.EN: "Call",
    },
    "awards.call_awards": {
        Language.FI: "Haun palkitseminen",
        Language.SV: "Utlysningens utmärkelser",
        Language.EN: "The call's awards",
    },
    "awards.case": {
        Language.FI: "Tapaus",
        Language.SV: "Ärende",
        Language.EN: "Case",
    },
    "awards.category": {
        Language.FI: "Sarja",
        Language.SV: "Kategori",
        Language.EN: "Category",
    },
    "awards.change_decision": {
        Language.FI: "Muuta päätöstä",
        Language.SV: "Ändra beslutet",
        Language.EN: "Change the decision",
    },
    "awards.comment": {
        Language.FI: "Perustelu",
        Language.SV: "Motivering",
        Language.EN: "Comment",
    },
    "awards.confirm_required": {
        Language.FI: "Vahvista valitsemalla ruutu.",
        Language.SV: "Bekräfta genom att kryssa i rutan.",
        Language.EN: "Confirm by ticking the box.",
    },
    "awards.conflict_confirm": {
        Language.FI: "Vahvistan, että olen esteellinen enkä pisteytä tätä tapausta.",
        Language.SV: "Jag bekräftar att jag är jävig och inte poängsätter ärendet.",
        Language.EN: "I confirm I have a conflict of interest and will not score this case.",
    },
    "awards.conflict_reason": {
        Language.FI: "Esteellisyyden syy",
        Language.SV: "Orsak till jäv",
        Language.EN: "Reason for the conflict",
    },
    "awards.criteria": {
        Language.FI: "Arviointikriteerit",
        Language.SV: "Bedömningskriterier",
        Language.EN: "Criteria",
    },
    "awards.criteria_in_force": {
        Language.FI: "Voimassa olevat kriteerit",
        Language.SV: "Gällande kriterier",
        Language.EN: "Criteria in force",
    },
    "awards.criteria_source.call": {
        Language.FI: "Haun omat kriteerit.",
        Language.SV: "Utlysningens egna kriterier.",
        Language.EN: "The call's own criteria.",
    },
    "awards.criteria_source.override": {
        Language.FI: "Ylläpitäjän asettamat kriteerit.",
        Language.SV: "Kriterier satta av operatören.",
        Language.EN: "Criteria set by an operator.",
    },
    "awards.criteria_source.default": {
        Language.FI: "Oletuskriteerit.",
        Language.SV: "Standardkriterier.",
        Language.EN: "The default criteria.",
    },
    "awards.criterion": {
        Language.FI: "Kriteeri",
        Language.SV: "Kriterium",
        Language.EN: "Criterion",
    },
    "awards.criterion_n": {
        Language.FI: "Kriteeri {n}",
        Language.SV: "Kriterium {n}",
        Language.EN: "Criterion {n}",
    },
    "awards.decide": {
        Language.FI: "Päätä",
        Language.SV: "Besluta",
        Language.EN: "Decide",
    },
    "awards.decisions": {
        Language.FI: "Päätökset",
        Language.SV: "Beslut",
        Language.EN: "Decisions",
    },
    "awards.declare_conflict": {
        Language.FI: "Ilmoita esteellisyys",
        Language.SV: "Anmäl jäv",
        Language.EN: "Declare a conflict of interest",
    },
    "awards.description": {
        Language.FI: "Kuvaus",
        Language.SV: "Beskrivning",
        Language.EN: "Description",
    },
    "awards.done.jury": {
        Language.FI: "Tuomaristo tallennettu.",
        Language.SV: "Juryn sparad.",
        Language.EN: "Jury saved.",
    },
    "awards.done.criteria": {
        Language.FI: "Kriteerit tallennettu.",
        Language.SV: "Kriterierna sparade.",
        Language.EN: "Criteria saved.",
    },
    "awards.done.decided": {
        Language.FI: "Päätös tallennettu.",
        Language.SV: "Beslutet sparat.",
        Language.EN: "Decision saved.",
    },
    "awards.done.published": {
        Language.FI: "Tulokset julkaistu.",
        Language.SV: "Resultaten publicerade.",
        Language.EN: "Results published.",
    },
    "awards.drivers": {
        Language.FI: "Ajurit",
        Language.SV: "Drivkrafter",
        Language.EN: "Drivers",
    },
    "awards.feedback": {
        Language.FI: "Palaute hakijalle",
        Language.SV: "Återkoppling till den sökande",
        Language.EN: "Feedback for the submitter",
    },
    "awards.form_has_problems": {
        Language.FI: "Lomakkeessa on virheitä; katso kenttien viestit.",
        Language.SV: "Formuläret har fel; se meddelandena vid fälten.",
        Language.EN: "The form has problems; see the messages at the fields.",
    },
    "awards.iso_stage": {
        Language.FI: "ISO 56002 -vaihe",
        Language.SV: "ISO 56002-fas",
        Language.EN: "ISO 56002 stage",
    },
    "awards.iteration": {
        Language.FI: "Arviointikierros {n}",
        Language.SV: "Granskningsomgång {n}",
        Language.EN: "Review iteration {n}",
    },
    "awards.juror_n": {
        Language.FI: "Tuomari {n}",
        Language.SV: "Jurymedlem {n}",
        Language.EN: "Juror {n}",
    },
    "awards.jurors_per_case": {
        Language.FI: "Tuomareita tapausta kohden",
        Language.SV: "Jurymedlemmar per ärende",
        Language.EN: "Jurors per case",
    },
    "awards.jurors_scored": {
        Language.FI: "Pisteyttäneet",
        Language.SV: "Har poängsatt",
        Language.EN: "Jurors scored",
    },
    "awards.jury": {
        Language.FI: "Tuomaristo",
        Language.SV: "Jury",
        Language.EN: "Jury",
    },
    "awards.leaderboard": {
        Language.FI: "Tulostaulukko",
        Language.SV: "Resultattavla",
        Language.EN: "Leaderboard",
    },
    "awards.leaderboard_caption": {
        Language.FI: "Tapaukset sarjoittain painotettujen pisteiden mukaan",
        Language.SV: "Ärenden per kategori efter viktad poäng",
        Language.EN: "Cases per category by weighted score",
    },
    "awards.met": {
        Language.FI: "täyttyy",
        Language.SV: "uppfyllt",
        Language.EN: "met",
    },
    "awards.my_assignments": {
        Language.FI: "Arvioitavani",
        Language.SV: "Mina tilldelningar",
        Language.EN: "My assignments",
    },
    "awards.no_assignments": {
        Language.FI: "Sinulle ei ole osoitettu tapauksia.",
        Language.SV: "Inga ärenden har tilldelats dig.",
        Language.EN: "No cases are assigned to you.",
    },
    "awards.no_content": {
        Language.FI: "Tapauksen sisältöä ei ole saatu.",
        Language.SV: "Ärendets innehåll har inte tagits emot.",
        Language.EN: "The case's content has not been received.",
    },
    "awards.no_evaluations": {
        Language.FI: "Haulla ei ole vielä arvioitavia tapauksia.",
        Language.SV: "Utlysningen har inga ärenden att bedöma ännu.",
        Language.EN: "The call has no cases in evaluation yet.",
    },
    "awards.no_history": {
        Language.FI: "Ei arviointihistoriaa.",
        Language.SV: "Ingen granskningshistorik.",
        Language.EN: "No review history.",
    },
    "awards.no_scores_yet": {
        Language.FI: "Ei pisteitä vielä.",
        Language.SV: "Inga poäng ännu.",
        Language.EN: "No scores yet.",
    },
    "awards.not_met": {
        Language.FI: "ei täyty",
        Language.SV: "inte uppfyllt",
        Language.EN: "not met",
    },
    "awards.not_scored": {
        Language.FI: "Ei pisteytetty",
        Language.SV: "Inte poängsatt",
        Language.EN: "Not scored",
    },
    "awards.obstacles": {
        Language.FI: "Esteet",
        Language.SV: "Hinder",
        Language.EN: "Obstacles",
    },
    "awards.oecd": {
        Language.FI: "OECD:n periaatteet",
        Language.SV: "OECD:s principer",
        Language.EN: "OECD principles",
    },
    "awards.organisation": {
        Language.FI: "Organisaatio",
        Language.SV: "Organisation",
        Language.EN: "Organisation",
    },
    "awards.outcome": {
        Language.FI: "Lopputulos",
        Language.SV: "Utfall",
        Language.EN: "Outcome",
    },
    "awards.overall_comment": {
        Language.FI: "Kokonaisarvio",
        Language.SV: "Helhetsbedömning",
        Language.EN: "Overall comment",
    },
    "awards.override_criteria": {
        Language.FI: "Korvaa kriteerit (kunnes ensimmäiset pisteet annetaan)",
        Language.SV: "Ersätt kriterierna (tills de första poängen ges)",
        Language.EN: "Override the criteria (until the first scores)",
    },
    "awards.partners": {
        Language.FI: "Kumppanit",
        Language.SV: "Partner",
        Language.EN: "Partners",
    },
    "awards.point": {
        Language.FI: "palautekohta",
        Language.SV: "återkopplingspunkt",
        Language.EN: "feedback point",
    },
    "awards.problem": {
        Language.FI: "Ongelma",
        Language.SV: "Problem",
        Language.EN: "Problem",
    },
    "awards.publish_confirm": {
        Language.FI: "Vahvistan: päätökset julkaistaan hakijoille eikä niitä voi enää muuttaa.",
        Language.SV: "Jag bekräftar: besluten publiceras för de sökande och kan inte längre ändras.",
        Language.EN: "I confirm: the decisions are released to the submitters and can no longer change.",
    },
    "awards.publish_results": {
        Language.FI: "Julkaise tulokset",
        Language.SV: "Publicera resultaten",
        Language.EN: "Publish the results",
    },
    "awards.rank": {
        Language.FI: "Sija",
        Language.SV: "Placering",
        Language.EN: "Rank",
    },
    "awards.reason_required": {
        Language.FI: "Kerro syy.",
        Language.SV: "Ange en orsak.",
        Language.EN: "Give a reason.",
    },
    "awards.recused": {
        Language.FI: "Esteellisyys kirjattu; tapaus poistettiin listaltasi.",
        Language.SV: "Jävet registrerat; ärendet togs bort från din lista.",
        Language.EN: "Conflict recorded; the case was removed from your list.",
    },
    "awards.review_history": {
        Language.FI: "Arviointihistoria",
        Language.SV: "Granskningshistorik",
        Language.EN: "Review history",
    },
    "awards.revision": {
        Language.FI: "Versio {n}",
        Language.SV: "Version {n}",
        Language.EN: "Revision {n}",
    },
    "awards.save_criteria": {
        Language.FI: "Tallenna kriteerit",
        Language.SV: "Spara kriterierna",
        Language.EN: "Save the criteria",
    },
    "awards.save_jury": {
        Language.FI: "Tallenna tuomaristo",
        Language.SV: "Spara juryn",
        Language.EN: "Save the jury",
    },
    "awards.save_scores": {
        Language.FI: "Tallenna pisteet",
        Language.SV: "Spara poängen",
        Language.EN: "Save the scores",
    },
    "awards.scale": {
        Language.FI: "Asteikko",
        Language.SV: "Skala",
        Language.EN: "Scale",
    },
    "awards.score_case": {
        Language.FI: "Pisteytä tapaus",
        Language.SV: "Poängsätt ärendet",
        Language.EN: "Score the case",
    },
    "awards.score_on_scale": {
        Language.FI: "Pisteet ({min}–{max})",
        Language.SV: "Poäng ({min}–{max})",
        Language.EN: "Score ({min}–{max})",
    },
    "awards.scored": {
        Language.FI: "Pisteytetty",
        Language.SV: "Poängsatt",
        Language.EN: "Scored",
    },
    "awards.scores_saved": {
        Language.FI: "Pisteesi on tallennettu.",
        Language.SV: "Dina poäng har sparats.",
        Language.EN: "Your scores are saved.",
    },
    "awards.scoring_deadline_utc": {
        Language.FI: "Pisteytyksen määräaika (UTC)",
        Language.SV: "Sista dag för poängsättning (UTC)",
        Language.EN: "Scoring deadline (UTC)",
    },
    "awards.scoring_due": {
        Language.FI: "Pisteet viimeistään",
        Language.SV: "Poängen senast",
        Language.EN: "Scores due",
    },
    "awards.solution": {
        Language.FI: "Ratkaisu",
        Language.SV: "Lösning",
        Language.EN: "Solution",
    },
    "awards.status": {
        Language.FI: "Tila",
        Language.SV: "Status",
        Language.EN: "Status",
    },
    "awards.team": {
        Language.FI: "Tiimi",
        Language.SV: "Team",
        Language.EN: "Team",
    },
    "awards.the_case": {
        Language.FI: "Tapaus",
        Language.SV: "Ärendet",
        Language.EN: "The case",
    },
    "awards.weight": {
        Language.FI: "paino",
        Language.SV: "vikt",
        Language.EN: "weight",
    },
    "awards.weighted_score": {
        Language.FI: "Painotetut pisteet",
        Language.SV: "Viktad poäng",
        Language.EN: "Weighted score",
    },
    "awards.yes_scored": {
        Language.FI: "Pisteytetty",
        Language.SV: "Poängsatt",
        Language.EN: "Scored",
    },
    "awards.user_id": {
        Language.FI: "Käyttäjätunnus",
        Language.SV: "Användar-id",
        Language.EN: "User id",
    },
    "awards.name": {
        Language.FI: "Nimi",
        Language.SV: "Namn",
        Language.EN: "Name",
    },
    "awards.email": {
        Language.FI: "Sähköposti",
        Language.SV: "E-post",
        Language.EN: "Email",
    },
    "awards.organisation_id": {
        Language.FI: "Organisaation tunnus",
        Language.SV: "Organisationens id",
        Language.EN: "Organisation id",
    },
    "awards.conflicts": {
        Language.FI: "Esteellisyydet (organisaatioiden tai tapausten tunnukset pilkuin)",
        Language.SV: "Jäv (organisations- eller ärende-id, kommaseparerade)",
        Language.EN: "Conflicts (organisation or case ids, comma separated)",
    },
    "awards.key": {
        Language.FI: "Tunnus",
        Language.SV: "Nyckel",
        Language.EN: "Key",
    },
    "awards.scale_min": {
        Language.FI: "Asteikon alin",
        Language.SV: "Skalans lägsta",
        Language.EN: "Scale minimum",
    },
    "awards.scale_max": {
        Language.FI: "Asteikon ylin",
        Language.SV: "Skalans högsta",
        Language.EN: "Scale maximum",
    },
    # ---- the operator dashboard's domain sections: intake's time in stage, awards' spread and leaderboard ----
    # The operator dashboard's domain sections (ops_glances.html.j2): intake's time in each stage
    # (services/intake/workflow.at_a_glance), awards' inter-rater spread and leaderboard (services/awards/workflow).
    "glance_time_in_stage": {
        Language.FI: "Aika kussakin vaiheessa",
        Language.SV: "Tid i varje steg",
        Language.EN: "Time in each stage",
    },
    "glance_stage": {Language.FI: "Vaihe", Language.SV: "Steg", Language.EN: "Stage"},
    "glance_moved_on": {Language.FI: "Siirtyneet eteenpäin", Language.SV: "Gått vidare", Language.EN: "Moved on"},
    "glance_median": {Language.FI: "Mediaaniaika", Language.SV: "Mediantid", Language.EN: "Median time"},
    "glance_longest": {Language.FI: "Pisin aika", Language.SV: "Längsta tid", Language.EN: "Longest time"},
    "glance_waiting": {Language.FI: "Yhä vaiheessa", Language.SV: "Kvar i steget", Language.EN: "Still in it"},
    "glance_longest_waiting": {
        Language.FI: "Pisin odotus tähän mennessä",
        Language.SV: "Längsta väntan hittills",
        Language.EN: "Longest wait so far",
    },
    "glance_days": {Language.FI: "{n} vrk", Language.SV: "{n} d", Language.EN: "{n} d"},
    "glance_spread": {
        Language.FI: "Tuomareiden pisteiden hajonta tapauksittain (suurin ensin)",
        Language.SV: "Spridningen mellan jurymedlemmarnas poäng per ärende (störst först)",
        Language.EN: "Inter-rater spread per case (widest first)",
    },
    "glance_lowest": {Language.FI: "Alin", Language.SV: "Lägst", Language.EN: "Lowest"},
    "glance_highest": {Language.FI: "Ylin", Language.SV: "Högst", Language.EN: "Highest"},
    "glance_sd": {Language.FI: "Keskihajonta", Language.SV: "Standardavvikelse", Language.EN: "Standard deviation"},
    "glance_spread_flag": {Language.FI: "Hajonta", Language.SV: "Spridning", Language.EN: "Spread"},
    "glance_spread_large": {
        Language.FI: "⚠ Suuri: keskustelkaa ennen päätöstä",
        Language.SV: "⚠ Stor: diskutera före beslutet",
        Language.EN: "⚠ Large: talk it over before deciding",
    },
    "glance_leaderboard": {
        Language.FI: "Tulostaulukko: viisi parasta haun ja sarjan mukaan",
        Language.SV: "Resultattavla: de fem bästa per utlysning och kategori",
        Language.EN: "Leaderboard: the best five per call and category",
    },
    # ---- intake's operator pages: calls (list, create, open/close) ----
    "intake_op.calls": {
        Language.FI: "Haut",
        Language.SV: "Utlysningar",
        Language.EN: "Calls",
    },
    "intake_op.calls_caption": {
        Language.FI: "Kaikki haut ({total})",
        Language.SV: "Alla utlysningar ({total})",
        Language.EN: "All calls ({total})",
    },
    "intake_op.created": {
        Language.FI: "Haku luotu ja ilmoitettu muille palveluille.",
        Language.SV: "Utlysningen skapad och meddelad till de andra tjänsterna.",
        Language.EN: "Call created and announced to the other services.",
    },
    "intake_op.title": {
        Language.FI: "Nimi",
        Language.SV: "Namn",
        Language.EN: "Title",
    },
    "intake_op.description": {
        Language.FI: "Kuvaus",
        Language.SV: "Beskrivning",
        Language.EN: "Description",
    },
    "intake_op.window": {
        Language.FI: "Hakuaika",
        Language.SV: "Ansökningstid",
        Language.EN: "Window",
    },
    "intake_op.state": {
        Language.FI: "Tila",
        Language.SV: "Läge",
        Language.EN: "State",
    },
    "intake_op.open": {
        Language.FI: "Auki",
        Language.SV: "Öppen",
        Language.EN: "Open",
    },
    "intake_op.closed": {
        Language.FI: "Kiinni",
        Language.SV: "Stängd",
        Language.EN: "Closed",
    },
    "intake_op.awards": {
        Language.FI: "Palkitseminen",
        Language.SV: "Utmärkelser",
        Language.EN: "Awards",
    },
    "intake_op.jury_and_results": {
        Language.FI: "Tuomaristo ja tulokset",
        Language.SV: "Jury och resultat",
        Language.EN: "Jury and results",
    },
    "intake_op.no_calls": {
        Language.FI: "Hakuja ei ole vielä.",
        Language.SV: "Inga utlysningar ännu.",
        Language.EN: "No calls yet.",
    },
    "intake_op.new_call": {
        Language.FI: "Uusi haku",
        Language.SV: "Ny utlysning",
        Language.EN: "New call",
    },
    "intake_op.form_has_problems": {
        Language.FI: "Lomakkeessa on virheitä; katso kenttien viestit.",
        Language.SV: "Formuläret har fel; se meddelandena vid fälten.",
        Language.EN: "The form has problems; see the messages at the fields.",
    },
    "intake_op.opens_at": {
        Language.FI: "Aukeaa (UTC)",
        Language.SV: "Öppnar (UTC)",
        Language.EN: "Opens (UTC)",
    },
    "intake_op.closes_at": {
        Language.FI: "Sulkeutuu (UTC)",
        Language.SV: "Stänger (UTC)",
        Language.EN: "Closes (UTC)",
    },
    "intake_op.categories": {
        Language.FI: "Sarjat",
        Language.SV: "Kategorier",
        Language.EN: "Categories",
    },
    "intake_op.languages": {
        Language.FI: "Kielet",
        Language.SV: "Språk",
        Language.EN: "Languages",
    },
    "intake_op.reviewers_per_iteration": {
        Language.FI: "Arvioijia kierrosta kohden (1–2)",
        Language.SV: "Granskare per omgång (1–2)",
        Language.EN: "Reviewers per iteration (1–2)",
    },
    "intake_op.default_criteria": {
        Language.FI: "Kriteereinä ovat Laatuinnovaatiopalkinnon viisi; ne voi korvata palkitsemisen sivulla.",
        Language.SV: "Bedömningskriterierna är Kvalitetsinnovationspriset fem; de kan ersättas på utmärkelsesidan.",
        Language.EN: "The criteria are the Quality Innovation Award's five; they can be overridden on the awards page.",
    },
    "intake_op.create": {
        Language.FI: "Luo haku",
        Language.SV: "Skapa utlysningen",
        Language.EN: "Create the call",
    },
    "intake_op.revision": {
        Language.FI: "Versio",
        Language.SV: "Version",
        Language.EN: "Revision",
    },
    "intake_op.change_window": {
        Language.FI: "Avaa, sulje tai muuta hakuaikaa",
        Language.SV: "Öppna, stäng eller ändra ansökningstiden",
        Language.EN: "Open, close or change the window",
    },
    "intake_op.save_window": {
        Language.FI: "Tallenna hakuaika",
        Language.SV: "Spara ansökningstiden",
        Language.EN: "Save the window",
    },
    "intake_op.open_now": {
        Language.FI: "Avaa nyt",
        Language.SV: "Öppna nu",
        Language.EN: "Open now",
    },
    "intake_op.close_now": {
        Language.FI: "Sulje nyt",
        Language.SV: "Stäng nu",
        Language.EN: "Close now",
    },
    "intake_op.window_changed": {
        Language.FI: "Hakuaika muutettu ja ilmoitettu muille palveluille.",
        Language.SV: "Ansökningstiden ändrad och meddelad till de andra tjänsterna.",
        Language.EN: "Window changed and announced to the other services.",
    },
    # ---- the operator dashboard's latest events, handler health and domain section (shared/web/ops.py) ----
    "ops_handlers": {
        Language.FI: "Käsittelijöiden viive ja virheet (tämä prosessi)",
        Language.SV: "Hanterarnas latens och fel (denna process)",
        Language.EN: "Handler latency and errors (this process)",
    },
    "error_rate": {Language.FI: "Virheosuus", Language.SV: "Felandel", Language.EN: "Error rate"},
    "latest_events": {
        Language.FI: "Viimeksi käsitellyt tapahtumat",
        Language.SV: "Senast hanterade händelser",
        Language.EN: "Latest events handled",
    },
    "event_time": {Language.FI: "Käsitelty", Language.SV: "Hanterad", Language.EN: "Handled at"},
    "event_type": {Language.FI: "Tyyppi", Language.SV: "Typ", Language.EN: "Type"},
    "event_case": {
        Language.FI: "Hakemus tai haku",
        Language.SV: "Ansökan eller utlysning",
        Language.EN: "Case or call",
    },
    "event_correlation": {Language.FI: "Korrelaatio", Language.SV: "Korrelation", Language.EN: "Correlation"},
    "event_id": {Language.FI: "Tapahtuman tunniste", Language.SV: "Händelse-id", Language.EN: "Event id"},
    "ops_domain": {
        Language.FI: "{service} yhdellä silmäyksellä",
        Language.SV: "{service} i korthet",
        Language.EN: "{service} at a glance",
    },
    "glance_empty": {Language.FI: "Ei vielä mitään.", Language.SV: "Inget ännu.", Language.EN: "Nothing yet."},
    "glance_funnel": {
        Language.FI: "Hakemukset haun ja vaiheen mukaan",
        Language.SV: "Ansökningar per utlysning och steg",
        Language.EN: "Cases per call and stage",
    },
    "glance_call": {Language.FI: "Haku", Language.SV: "Utlysning", Language.EN: "Call"},
    "glance_queue": {Language.FI: "Arviointijono", Language.SV: "Granskningskön", Language.EN: "Review queue"},
    "glance_queued": {Language.FI: "Jonossa", Language.SV: "I kö", Language.EN: "Queued"},
    "glance_claimed": {Language.FI: "Otettu", Language.SV: "Tagna", Language.EN: "Claimed"},
    "glance_overdue": {Language.FI: "Myöhässä", Language.SV: "Försenade", Language.EN: "Overdue"},
    "glance_reviewer_load": {
        Language.FI: "Arvioijien kuorma",
        Language.SV: "Granskarnas belastning",
        Language.EN: "Load per reviewer",
    },
    "glance_reviewer": {Language.FI: "Arvioija", Language.SV: "Granskare", Language.EN: "Reviewer"},
    "glance_holding": {Language.FI: "Hallussa", Language.SV: "Innehar", Language.EN: "Holding"},
    "glance_decided": {Language.FI: "Ratkaistu", Language.SV: "Avgjorda", Language.EN: "Decided"},
    "glance_scoring_per_call": {
        Language.FI: "Pisteytys haun mukaan",
        Language.SV: "Poängsättning per utlysning",
        Language.EN: "Scoring per call",
    },
    "glance_scoring_per_juror": {
        Language.FI: "Pisteytys tuomarin mukaan",
        Language.SV: "Poängsättning per jurymedlem",
        Language.EN: "Scoring per juror",
    },
    "glance_scored": {Language.FI: "Pisteytetty", Language.SV: "Poängsatta", Language.EN: "Scored"},
    "glance_assigned": {Language.FI: "Osoitettu", Language.SV: "Tilldelade", Language.EN: "Assigned"},
    "glance_juror": {Language.FI: "Tuomari", Language.SV: "Jurymedlem", Language.EN: "Juror"},
    "glance_deliveries": {
        Language.FI: "Toimitukset kanavan ja tilan mukaan",
        Language.SV: "Leveranser per kanal och status",
        Language.EN: "Deliveries by channel and status",
    },
    "glance_failures": {
        Language.FI: "Viimeisimmät epäonnistuneet toimitukset",
        Language.SV: "Senaste misslyckade leveranser",
        Language.EN: "Latest failed deliveries",
    },
    "glance_channel": {Language.FI: "Kanava", Language.SV: "Kanal", Language.EN: "Channel"},
    "glance_deliveries_n": {Language.FI: "Toimituksia", Language.SV: "Leveranser", Language.EN: "Deliveries"},
    "glance_failed_at": {Language.FI: "Epäonnistui", Language.SV: "Misslyckades", Language.EN: "Failed at"},
    "glance_recipient": {Language.FI: "Vastaanottaja", Language.SV: "Mottagare", Language.EN: "Recipient"},
    "glance_template": {Language.FI: "Viesti", Language.SV: "Meddelande", Language.EN: "Message"},
    "glance_reason": {Language.FI: "Syy", Language.SV: "Orsak", Language.EN: "Reason"},
    "no_latest_events": {
        Language.FI: "Ei vielä käsiteltyjä tapahtumia.",
        Language.SV: "Inga hanterade händelser ännu.",
        Language.EN: "No events handled yet.",
    },
    # ---- the operator dashboard's flow: charts, lag per partition, replay all, SMTP and webhooks ----
    "flow_consumed_rate": {
        Language.FI: "Vastaanotetut nyt (viime minuutti)",
        Language.SV: "Mottagna nu (senaste minuten)",
        Language.EN: "Consumed now (last minute)",
    },
    "flow_published_rate": {
        Language.FI: "Julkaistut nyt (viime minuutti)",
        Language.SV: "Publicerade nu (senaste minuten)",
        Language.EN: "Published now (last minute)",
    },
    "per_second": {Language.FI: "{n}/s", Language.SV: "{n}/s", Language.EN: "{n}/s"},
    "flow_chart_caption": {
        Language.FI: "Tapahtumat minuuteittain viimeisen tunnin ajalta",
        Language.SV: "Händelser per minut under den senaste timmen",
        Language.EN: "Events per minute over the last hour",
    },
    "flow_chart_summary": {
        Language.FI: "Viimeisen tunnin aikana vastaanotettu {consumed} ja julkaistu {published} tapahtumaa; vilkkain "
        "minuutti {minute} UTC: {busiest_consumed} vastaanotettu, {busiest_published} julkaistu.",
        Language.SV: "Under den senaste timmen {consumed} händelser mottagna och {published} publicerade; den "
        "livligaste minuten {minute} UTC: {busiest_consumed} mottagna, {busiest_published} publicerade.",
        Language.EN: "In the last hour {consumed} events consumed and {published} published; the busiest minute "
        "{minute} UTC: {busiest_consumed} consumed, {busiest_published} published.",
    },
    "flow_chart_quiet": {
        Language.FI: "Viimeisen tunnin aikana ei vastaanotettu eikä julkaistu tapahtumia.",
        Language.SV: "Inga händelser mottagna eller publicerade under den senaste timmen.",
        Language.EN: "No events consumed or published in the last hour.",
    },
    "flow_x_axis": {
        Language.FI: "Aika (UTC), piste minuutissa",
        Language.SV: "Tid (UTC), en punkt per minut",
        Language.EN: "Time (UTC), one point a minute",
    },
    "flow_y_axis": {
        Language.FI: "Tapahtumaa minuutissa",
        Language.SV: "Händelser per minut",
        Language.EN: "Events per minute",
    },
    "flow_consumed": {Language.FI: "Vastaanotetut", Language.SV: "Mottagna", Language.EN: "Consumed"},
    "flow_published": {Language.FI: "Julkaistut", Language.SV: "Publicerade", Language.EN: "Published"},
    "flow_total": {Language.FI: "{n} tunnissa", Language.SV: "{n} under timmen", Language.EN: "{n} in the hour"},
    "flow_table_summary": {
        Language.FI: "Kaavion luvut taulukkona",
        Language.SV: "Diagrammets siffror som tabell",
        Language.EN: "The chart's figures as a table",
    },
    "flow_table_caption": {
        Language.FI: "Tapahtumat minuuteittain, uusin ensin",
        Language.SV: "Händelser per minut, nyaste först",
        Language.EN: "Events per minute, newest first",
    },
    "flow_minute": {Language.FI: "Minuutti (UTC)", Language.SV: "Minut (UTC)", Language.EN: "Minute (UTC)"},
    "lag_per_partition": {
        Language.FI: "Lukematta olevat viestit aiheen osioittain",
        Language.SV: "Olästa meddelanden per ämnespartition",
        Language.EN: "Consumer lag per topic partition",
    },
    "lag_partition": {Language.FI: "Osio", Language.SV: "Partition", Language.EN: "Partition"},
    "lag_committed": {
        Language.FI: "Vahvistettu siirtymä",
        Language.SV: "Bekräftad offset",
        Language.EN: "Committed offset",
    },
    "lag_end": {Language.FI: "Loppusiirtymä", Language.SV: "Slutoffset", Language.EN: "End offset"},
    "lag_topic_total": {
        Language.FI: "yhteensä {n} lukematta",
        Language.SV: "sammanlagt {n} olästa",
        Language.EN: "{n} behind in all",
    },
    "health_failing": {Language.FI: "Epäonnistuu", Language.SV: "Misslyckas", Language.EN: "Failing"},
    "replay_all": {
        Language.FI: "Käsittele kaikki uudelleen",
        Language.SV: "Kör alla igen",
        Language.EN: "Replay all",
    },
    "replay_rest": {
        Language.FI: "Käsittele loput uudelleen",
        Language.SV: "Kör resten igen",
        Language.EN: "Replay the remaining",
    },
    "replay_all_confirm_label": {
        Language.FI: "Kyllä, käsittele uudelleen kaikki {n} odottavaa viestiä vanhimmasta alkaen (enintään {max} "
        "kerralla).",
        Language.SV: "Ja, kör alla {n} väntande meddelanden igen, äldst först (högst {max} åt gången).",
        Language.EN: "Yes, replay all {n} waiting dead letters, oldest first (at most {max} at a time).",
    },
    "replay_rest_confirm_label": {
        Language.FI: "Kyllä, käsittele uudelleen viestin {after} jälkeen jäljellä olevat {n} (enintään {max} "
        "kerralla).",
        Language.SV: "Ja, kör de {n} återstående efter nr {after} igen (högst {max} åt gången).",
        Language.EN: "Yes, replay the {n} remaining after #{after} (at most {max} at a time).",
    },
    "replay_all_confirm": {
        Language.FI: "Vahvista rastittamalla ruutu, että kaikki käsitellään uudelleen.",
        Language.SV: "Kryssa i rutan för att bekräfta att alla körs igen.",
        Language.EN: "Tick the box to confirm replaying them all.",
    },
    "replay_all_done": {
        Language.FI: "{replayed} käsitelty uudelleen, {failed} epäonnistui uudelleen, {remaining} jäljellä.",
        Language.SV: "{replayed} körda igen, {failed} misslyckades igen, {remaining} återstår.",
        Language.EN: "{replayed} replayed, {failed} failed again, {remaining} remain.",
    },
    "replay_all_skipped": {
        Language.FI: "{n} ei enää odottanut.",
        Language.SV: "{n} väntade inte längre.",
        Language.EN: "{n} were no longer waiting.",
    },
    "replay_all_nothing": {
        Language.FI: "Tämä palvelu ei vastaanota tapahtumia, joten sillä ei ole epäonnistuneita viestejä.",
        Language.SV: "Den här tjänsten tar inte emot händelser och har inga misslyckade meddelanden.",
        Language.EN: "This service consumes no events, so it has no dead letters.",
    },
    "dependency.smtp": {
        Language.FI: "Sähköpostipalvelin (SMTP)",
        Language.SV: "E-postserver (SMTP)",
        Language.EN: "SMTP server",
    },
    "dependency.webhooks": {
        Language.FI: "Webhook-vastaanottajat",
        Language.SV: "Webhook-mottagare",
        Language.EN: "Webhooks",
    },
    "smtp_detail": {
        Language.FI: "{server} vastasi EHLO- ja NOOP-komentoihin {ms} millisekunnissa.",
        Language.SV: "{server} svarade på EHLO och NOOP på {ms} ms.",
        Language.EN: "{server} answered EHLO and NOOP in {ms} ms.",
    },
    "webhooks_detail": {
        Language.FI: "Viimeisen {minutes} minuutin aikana {deliveries} toimitusta, joista {failed} epäonnistui; "
        "epäonnistuvia tilauksia {failing}; viimeisin onnistunut {last}.",
        Language.SV: "Under de senaste {minutes} minuterna {deliveries} leveranser, varav {failed} misslyckades; "
        "prenumerationer som misslyckas {failing}; senaste lyckade {last}.",
        Language.EN: "Last {minutes} minutes: {deliveries} deliveries, {failed} failed; subscriptions failing "
        "{failing}; last success {last}.",
    },
}


# The fixed vocabularies pages show values of, each with the prefix of its words: value ``v`` of vocabulary ``x``
# reads ``MESSAGES[f"{VOCABULARIES[x]}.{v}"]``. tests/unit/shared/test_labels.py checks every value of each
# vocabulary's enum has words. A call's criteria keys and free text (drivers, obstacles) are no vocabulary.
VOCABULARIES: Final[dict[str, str]] = {
    "case_status": "sub.status",  # intake's CaseStatus (as shown to the viewer)
    "task_status": "label.task_status",  # review's TaskStatus
    "decision": "rev.decision",  # review's Decision, also an iteration's outcome
    "evaluation_status": "label.evaluation_status",  # awards' EvaluationStatus
    "round_outcome": "label.round_outcome",  # awards' RoundOutcome: how a review iteration ended
    "criteria_source": "awards.criteria_source",  # awards' CriteriaSource
    "outcome": "sub.outcome",  # AwardOutcome
    "point_status": "label.point_status",  # shared.feedback.PointStatus
    "category": "label.category",
    "iso_stage": "label.iso_stage",
    "oecd_principle": "sub.oecd",
    "language": "label.language",
    "checklist_item": "label.checklist",  # review's CHECKLISTS, keyed by the item's own (English) text
}


class Translator:
    """``t("key", name=...)`` in one language."""

    def __init__(self, language: Language) -> None:
        self.language = language

    def __call__(self, key: str, **values: object) -> str:
        text = MESSAGES[key][self.language]
        return text.format(**values) if values else text

    def label(self, vocabulary: str, value: object) -> str:
        """The words for ``value`` of a fixed vocabulary (VOCABULARIES), the Jinja filter ``label``; a value
        without words (a code the vocabulary does not know, such as a checklist item of another service's
        making) as it is, and nothing as "–"."""
        if value is None:
            return "–"
        code = value.value if isinstance(value, Enum) else value
        key = f"{VOCABULARIES[vocabulary]}.{code}"
        return self(key) if key in MESSAGES else str(code)

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
