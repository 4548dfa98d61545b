"""Every value of each fixed vocabulary a page shows has words in fi, sv and en (a new enum value without them fails
here), looked up in one place: ``Translator.label``, the templates' ``label`` filter."""

from __future__ import annotations

from enum import Enum

import pytest

from services.awards.domain import CriteriaSource, EvaluationStatus, RoundOutcome
from services.intake.domain import CaseStatus
from services.review.domain import CHECKLISTS, Decision, TaskStatus
from shared.feedback import PointStatus
from shared.vocabulary import AwardOutcome, Category, IsoStage, Language, OecdPrinciple
from shared.web.i18n import MESSAGES, VOCABULARIES, Translator
from shared.web.pages import _templates

ENUMS: dict[str, type[Enum]] = {
    "case_status": CaseStatus,
    "task_status": TaskStatus,
    "decision": Decision,
    "evaluation_status": EvaluationStatus,
    "round_outcome": RoundOutcome,
    "criteria_source": CriteriaSource,
    "outcome": AwardOutcome,
    "point_status": PointStatus,
    "category": Category,
    "iso_stage": IsoStage,
    "oecd_principle": OecdPrinciple,
    "language": Language,
}
CHECKLIST_ITEMS = sorted({item for items in CHECKLISTS.values() for item in items})
VALUES = [
    *((vocabulary, member.value) for vocabulary, enum in ENUMS.items() for member in enum),
    *(("checklist_item", item) for item in CHECKLIST_ITEMS),
]


def test_every_vocabulary_is_checked_here() -> None:
    assert set(VOCABULARIES) == {*ENUMS, "checklist_item"}


@pytest.mark.parametrize(("vocabulary", "value"), VALUES, ids=[f"{v}:{code}" for v, code in VALUES])
def test_every_value_has_words_in_each_language(vocabulary: str, value: object) -> None:
    words = MESSAGES[f"{VOCABULARIES[vocabulary]}.{value}"]
    assert set(words) == set(Language)
    assert all(text.strip() for text in words.values())


def test_a_value_reads_in_the_pages_language_and_a_code_without_words_as_it_is() -> None:
    fi, sv = Translator(Language.FI), Translator(Language.SV)
    assert fi.label("category", Category.HEALTH_CARE) == "Sosiaali- ja terveydenhuolto"
    assert sv.label("iso_stage", "validation") == "Validering"
    assert fi.label("oecd_principle", OecdPrinciple.CULTIVATE_PARTNERSHIPS) == "Viljele kumppanuuksia"
    assert sv.label("checklist_item", "users identified") == "användarna är identifierade"
    assert fi.label("checklist_item", "Vaikuttavuus mitattu") == "Vaikuttavuus mitattu"
    assert fi.label("outcome", None) == "–"


def test_templates_look_labels_up_with_the_filter() -> None:
    template = _templates.from_string('{{ c | label("category") }}; {{ cs | map("label", "category") | join(", ") }}')
    rendered = template.render(t=Translator(Language.SV), c=Category.EDUCATION, cs=["public_sector", "business_sme"])
    assert rendered == "Utbildning; Offentlig sektor, Små och medelstora företag"
