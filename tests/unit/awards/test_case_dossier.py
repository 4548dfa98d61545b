"""What jurors read of a case: its content without contact data, its review history, the points' states."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from services.awards import domain
from services.awards.domain import (
    DEFAULT_CRITERIA,
    Dossier,
    Person,
    ReviewRound,
    RevisionNote,
    RoundOpened,
    RoundOutcome,
    RoundSettled,
)
from shared.events import (
    CaseNominatedV1,
    CaseRejectedV1,
    CaseSnapshot,
    ChangesRequestedV1,
    Contact,
    FeedbackItem,
    IterationOpenedV1,
    Organisation,
    StageAdvancedV1,
)
from shared.feedback import PointState, PointStatus
from shared.vocabulary import Category, IsoStage, Language

AT = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
CASE, CALL = uuid.uuid4(), uuid.uuid4()


def test_every_default_criterion_tells_the_jurors_what_it_means() -> None:
    assert [c.key for c in DEFAULT_CRITERIA] == [
        "novelty",
        "usefulness",
        "learning",
        "customer_orientation",
        "effectiveness",
    ]
    assert all(len(c.description) > 40 and c.description.endswith(".") for c in DEFAULT_CRITERIA)


def test_jurors_read_the_case_without_anyones_contact_data() -> None:
    snapshot = CaseSnapshot(
        case_id=CASE,
        call_id=CALL,
        call_title="Quality Innovation Award 2026",
        revision=2,
        title="Digital building permits",
        summary="Permits in a day instead of a month.",
        problem="Permits take weeks.",
        solution="An online service with automated checks.",
        organisation=Organisation(id="org-espoo", name="City of Espoo", business_id="0101263-6"),
        submitter_id="sub-1",
        submitter=Contact(name="Sanna Submitter", email="sanna@example.org"),
        team=[Contact(name="Tiina Team", email="tiina@example.org", role="product owner")],
        partners=[Contact(name="Pekka Partner", email="pekka@example.org")],
        category=Category.PUBLIC_SECTOR,
        language=Language.FI,
        oecd_principles=[1, 4],
        iso_stage=IsoStage.VALIDATION,
        drivers=["digitalisation"],
        obstacles=["legacy systems"],
    )
    content = domain.case_content(snapshot)
    assert content.team == (Person("Tiina Team", "product owner"),)
    assert content.partners == (Person("Pekka Partner", None),)
    assert (content.revision, content.problem, content.solution) == (2, snapshot.problem, snapshot.solution)
    assert (content.oecd_principles, content.iso_stage) == ((1, 4), IsoStage.VALIDATION)
    assert (content.drivers, content.obstacles) == (("digitalisation",), ("legacy systems",))
    assert content.organisation_name == "City of Espoo"
    assert "@" not in repr(content) and "Sanna" not in repr(content)  # neither emails nor the submitter


def test_review_events_make_up_the_history() -> None:
    point = uuid.uuid4()
    unmet = FeedbackItem(checklist_item="users identified", met=False, point_id=point)
    opened = IterationOpenedV1(case_id=CASE, call_id=CALL, iteration=1, revision=1, stage=IsoStage.CONCEPT, due_at=AT)
    assert domain.review_round(opened, at=AT) == RoundOpened(1, IsoStage.CONCEPT, 1, AT)
    changes = ChangesRequestedV1(
        case_id=CASE, call_id=CALL, iteration=1, reviewer_ids=["r-1"], comment="who?", feedback=[unmet]
    )
    assert domain.review_round(changes, at=AT) == RoundSettled(
        1, RoundOutcome.CHANGES_REQUESTED, "who?", (unmet,), None, AT
    )
    advanced = StageAdvancedV1(
        case_id=CASE,
        call_id=CALL,
        iteration=2,
        from_stage=IsoStage.CONCEPT,
        to_stage=IsoStage.VALIDATION,
        reviewer_ids=["r-1"],
        comment="on",
    )
    assert domain.review_round(advanced, at=AT) == RoundSettled(
        2, RoundOutcome.ADVANCED, "on", (), IsoStage.CONCEPT, AT
    )
    nominated = CaseNominatedV1(
        case_id=CASE,
        call_id=CALL,
        call_title="QIA",
        title="t",
        summary="s",
        category=Category.PUBLIC_SECTOR,
        language=Language.FI,
        organisation_id="o",
        organisation_name="O",
        iteration=3,
        reviewer_ids=["r-1"],
        comment="strong",
        stage=IsoStage.VALIDATION,
    )
    settled = domain.review_round(nominated, at=AT)
    assert isinstance(settled, RoundSettled) and settled.outcome is RoundOutcome.NOMINATED
    rejected = CaseRejectedV1(case_id=CASE, call_id=CALL, iteration=1, reviewer_ids=["r-1"], comment="no")
    assert domain.review_round(rejected, at=AT) is None


def test_the_dossier_knows_which_points_a_revision_addressed() -> None:
    evidence, users = uuid.uuid4(), uuid.uuid4()
    round_1 = ReviewRound(
        iteration=1,
        stage=IsoStage.OPPORTUNITY,
        revision=1,
        opened_at=AT,
        outcome=RoundOutcome.CHANGES_REQUESTED,
        comment="more evidence",
        feedback=(
            FeedbackItem(checklist_item="problem is evidenced", met=False, point_id=evidence),
            FeedbackItem(checklist_item="users identified", met=False, point_id=users),
            FeedbackItem(checklist_item="opportunity fits the call", met=True),
        ),
        settled_at=AT,
    )
    dossier = Dossier(content=None, rounds=(round_1,), revisions=(RevisionNote(2, "added data", (evidence,), AT),))
    assert dossier.point_states() == {
        evidence: PointState(PointStatus.ADDRESSED, 2),
        users: PointState(PointStatus.OPEN),
    }
    assert Dossier(content=None).point_states() == {}
