"""A case's timeline reads in the page's language: each kind of entry has words in fi, sv and en, filled from the
entry's details (codes in the page's language, a person's own words as written); the API's English summary
stands in only for a kind without words or an entry without the details its words need."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import cast

import pytest

from services.intake.domain import (
    CaseProgress,
    CaseStatus,
    TimelineEntry,
    TimelineItem,
    TimelineKind,
    apply_event,
    revised_entry,
    submitted_entry,
    withdrawn_entry,
)
from services.intake.pages import timeline_text
from shared.vocabulary import IsoStage, Language
from shared.web.i18n import MESSAGES, Translator
from tests.unit.intake.test_domain import events_of_every_kind

NOW = datetime(2026, 3, 1, 9, tzinfo=UTC)
IN_REVIEW = CaseProgress(status=CaseStatus.IN_REVIEW, stage=IsoStage.CONCEPT, iteration=1)


def _item(entry: TimelineEntry) -> TimelineItem:
    return TimelineItem(
        at=NOW, kind=entry.kind, summary=entry.summary, iteration=entry.iteration, details=entry.details
    )


# One entry of every kind, made as intake makes them: by the submitter's actions and from review's and awards' events.
ENTRIES = [
    _item(e)
    for e in (
        submitted_entry(call_title="Laatuinnovaatio 2026"),
        revised_entry(revision=2, changed=["solution"], change_note="Lisätty mittari", iteration=1),
        withdrawn_entry(reason="Hanke siirtyy"),
        *(apply_event(IN_REVIEW, event).entry for event, _ in events_of_every_kind()),
    )
]


def test_every_kind_of_entry_is_among_the_examples() -> None:
    assert {item.kind for item in ENTRIES} == set(TimelineKind)


@pytest.mark.parametrize("kind", list(TimelineKind))
def test_every_kind_has_words_in_each_language(kind: TimelineKind) -> None:
    words = MESSAGES[f"timeline.{kind}"]
    assert set(words) == set(Language) and all(text.strip() for text in words.values())


@pytest.mark.parametrize("language", list(Language))
@pytest.mark.parametrize("item", ENTRIES, ids=[str(item.kind) for item in ENTRIES])
def test_every_entry_reads_in_the_pages_language(item: TimelineItem, language: Language) -> None:
    text = timeline_text(Translator(language), item)
    assert text and "{" not in text
    if language is not Language.EN:
        assert text != item.summary


def test_codes_are_in_the_pages_language_and_a_persons_words_as_written() -> None:
    fi = Translator(Language.FI)
    by_kind = {item.kind: item for item in ENTRIES}
    assert (
        timeline_text(fi, by_kind[TimelineKind.STAGE_ADVANCED])
        == "Siirtyi seuraavaan vaiheeseen: Konsepti → Validointi"
    )
    assert timeline_text(fi, by_kind[TimelineKind.RESULTS_PUBLISHED]) == "Tulokset julkaistu: Finalisti"
    assert timeline_text(fi, by_kind[TimelineKind.WITHDRAWN]) == "Hakija perui hakemuksen: Hanke siirtyy"
    assert timeline_text(fi, withdrawn := _item(withdrawn_entry(reason=""))) == "Hakija perui hakemuksen"
    assert withdrawn.summary == "Withdrawn by the submitter"
    sv = Translator(Language.SV)
    assert timeline_text(sv, by_kind[TimelineKind.ITERATION_OPENED]) == (
        "Granskningsomgång 1 inleddes, fas: Koncept (version 1)"
    )


def test_an_unknown_kind_or_a_missing_detail_falls_back_to_the_apis_text() -> None:
    fi = Translator(Language.FI)
    opened_item = next(item for item in ENTRIES if item.kind is TimelineKind.ITERATION_OPENED)
    unknown = replace(opened_item, kind=cast(TimelineKind, "reviewer_swapped"), summary="Reviewer swapped")
    assert timeline_text(fi, unknown) == "Reviewer swapped"
    older = replace(opened_item, details={})
    assert timeline_text(fi, older) == opened_item.summary
