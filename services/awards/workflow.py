"""Awards' use cases: each command and query of the API and the Kafka handlers, one unit of work each.

Every use case is a keyword-only function that takes a ``UnitOfWork[AwardsRepository]`` and plain
values: it opens the unit of work, reads and writes through ``uow.repo``, asks domain.py for the
rules, emits its events with ``uow.emit`` and commits. The same function serves a request (the
unit of work is a transaction) and an event (a savepoint in the consumer's transaction). Refusals
are ``shared.errors``; shared/http_errors.py maps them to HTTP in one place.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.awards import domain
from services.awards.domain import (
    NO_DOSSIER,
    NO_JURY,
    AnnouncedCriteria,
    Call,
    Completion,
    CriteriaSource,
    Dossier,
    Evaluation,
    EvaluationAction,
    EvaluationStatus,
    InvalidTransition,
    Jury,
    LeaderboardRow,
    ReviewRoundEvent,
    RevisionNote,
    RoundOpened,
    Scorecard,
    ScoreEntry,
)
from services.awards.repository import Assignment, AwardsRepository
from shared import tracing
from shared.errors import Conflict, Invalid, NotFound
from shared.events import (
    AwardDecidedV1,
    CallAnnouncedV1,
    CaseNominatedV1,
    CaseSnapshot,
    CaseWithdrawnV1,
    Criterion,
    EvaluationCompleteV1,
    EvaluationOpenedV1,
    JurorsAssignedV1,
    ResultsPublishedV1,
    ScoringDueV1,
    criteria_problems,
)
from shared.glance import Glance, Label, Word
from shared.logging import bind_event_context, get_logger
from shared.uow import UnitOfWork
from shared.vocabulary import AwardOutcome, Category

log = get_logger(__name__)

Uow = UnitOfWork[AwardsRepository]


# --------------------------------------------------------------------------- steps shared by the use cases


async def _top_up_jurors(
    repo: AwardsRepository, *, evaluation: Evaluation, jury: Jury, scoring_period: timedelta
) -> dict[str, datetime]:
    """Assign jurors until the evaluation has the panel's k, never one with a conflict; returns those added, in
    the order chosen, with their scoring deadlines (the caller tells them: ``_tell_jurors_assigned``).

    The caller holds the call lock exclusively, so loads cannot change underneath.
    """
    assigned = await repo.assigned_jurors(evaluation.case_id)
    needed = jury.jurors_per_case - len(assigned)
    if needed <= 0:
        return {}
    chosen = domain.choose_jurors(
        panel=jury.jurors,
        case_id=evaluation.case_id,
        organisation_id=evaluation.organisation_id,
        needed=needed,
        already_assigned=assigned,
        excluded=await repo.recused_jurors(evaluation.case_id),
        loads=await repo.juror_loads(evaluation.call_id),
    )
    added: dict[str, datetime] = {}
    if chosen:
        assigned_at = await repo.transaction_time()
        due_at = domain.scoring_due_at(
            jury_deadline=jury.scoring_due_at, assigned_at=assigned_at, scoring_period=scoring_period
        )
        made = await repo.add_assignments(
            case_id=evaluation.case_id, juror_ids=chosen, assigned_at=assigned_at, scoring_due_at=due_at
        )
        added = {j: made[j] for j in chosen if j in made}
    if len(chosen) < needed:
        log.warning(
            "too few eligible jurors for the case",
            case_id=str(evaluation.case_id),
            call_id=str(evaluation.call_id),
            wanted=needed,
            assigned=len(chosen),
            panel_size=len(jury.jurors),
        )
    return added


async def _tell_jurors_assigned(uow: Uow, *, evaluation: Evaluation, jury: Jury, added: Mapping[str, datetime]) -> None:
    """One JurorsAssignedV1 for the jurors just assigned to the case (only them), as the panel describes them;
    nothing when nobody was."""
    if not added:
        return
    await uow.emit(
        JurorsAssignedV1(
            case_id=evaluation.case_id,
            call_id=evaluation.call_id,
            case_title=evaluation.case.title,
            call_title=evaluation.case.call_title,
            jurors=[domain.addressee(jury, juror_id) for juror_id in added],
            scoring_due_at=domain.earliest_deadline(list(added.values())),
        )
    )


async def _record_completeness(uow: Uow, call_id: uuid.UUID) -> None:
    """After anything that changes who is assigned, who scored or which evaluations are open: tell the operators
    once when the call's open evaluations have all become decidable (EvaluationCompleteV1).

    The call's row lock makes the checks of one call take turns, each seeing what the one before committed: of two
    jurors scoring the last two cases at once, the second to get the lock sees both scorecards and emits.
    """
    call = await uow.repo.lock_call_completeness(call_id)
    if call is None:
        return  # not learned yet: no jury, no assignment, nothing scored
    progress = await uow.repo.open_scoring_progress(call_id)
    change = domain.completion(was_complete=call.evaluation_complete, is_complete=domain.evaluation_complete(progress))
    match change:
        case Completion.REACHED:
            await uow.repo.set_evaluation_complete(call_id, complete=True)
            await uow.emit(EvaluationCompleteV1(call_id=call_id, call_title=call.title, cases=len(progress)))
            log.info("call's evaluation complete", call_id=str(call_id), cases=len(progress))
        case Completion.LOST:
            await uow.repo.set_evaluation_complete(call_id, complete=False)
        case Completion.UNCHANGED:
            pass


async def _locked_evaluation(
    repo: AwardsRepository, case_id: uuid.UUID, *, shared: bool, juror_id: str | None = None
) -> Evaluation:
    """The evaluation under its call's lock and a row lock; with ``juror_id``, only if that juror is assigned.

    The call id is needed for the call lock, so the row is read once before locking and again after.
    """
    evaluation = await repo.get_evaluation(case_id)
    if evaluation is None or (juror_id is not None and not await repo.is_assigned(case_id=case_id, juror_id=juror_id)):
        raise NotFound(f"no evaluation of case {case_id}")
    await repo.lock_call(evaluation.call_id, shared=shared)
    locked = await repo.get_evaluation(case_id, for_update=True)
    assert locked is not None
    # Re-checked under the lock: a recusal or a new panel may have unassigned the juror meanwhile.
    if juror_id is not None and not await repo.is_assigned(case_id=case_id, juror_id=juror_id):
        raise NotFound(f"no evaluation of case {case_id}")
    return locked


async def _known_call(repo: AwardsRepository, call_id: uuid.UUID) -> Call:
    """The call as awards learned it from intake's announcement; 404 for a call awards has not learned."""
    call = await repo.get_call(call_id)
    if call is None:
        raise NotFound(
            f"call {call_id} is not known to awards: intake has not announced it "
            "(a call created moments ago is learned once its announcement arrives)"
        )
    return call


# --------------------------------------------------------------------------- calls: criteria and jury


@dataclass(frozen=True)
class CallCriteria:
    criteria: Sequence[Criterion]
    source: CriteriaSource

    @property
    def is_default(self) -> bool:
        """The call's own criteria, as intake announced them: no operator has overridden them in awards."""
        return self.source is not CriteriaSource.OVERRIDE


async def call_criteria(*, uow: Uow, call_id: uuid.UUID) -> CallCriteria:
    async with uow:
        call = await _known_call(uow.repo, call_id)
        criteria, source = domain.criteria_in_force(override=await uow.repo.get_criteria(call_id), call=call)
    return CallCriteria(criteria=criteria, source=source)


async def set_criteria(
    *, uow: Uow, call_id: uuid.UUID, criteria: Sequence[Criterion], operator_id: str
) -> CallCriteria:
    """Override the call's criteria in awards; refused once any case of the call has been scored."""
    problems = criteria_problems(criteria)
    if problems:
        raise Invalid.of(problems)
    with bind_event_context(case_id=None, correlation_id=uow.origin.correlation_id, call_id=str(call_id)):
        async with uow:
            await uow.repo.lock_call(call_id)
            await _known_call(uow.repo, call_id)
            if await uow.repo.call_has_scores(call_id):
                raise Conflict(f"call {call_id} already has scores; its criteria can no longer change")
            await uow.repo.set_criteria(call_id=call_id, criteria=criteria, updated_by=operator_id)
            updated = await uow.repo.replace_open_criteria(call_id=call_id, criteria=criteria)
            await uow.commit()
        log.info("criteria set", criteria=[c.key for c in criteria], open_evaluations_updated=updated)
    return CallCriteria(criteria=criteria, source=CriteriaSource.OVERRIDE)


@dataclass(frozen=True)
class JuryState:
    jury: Jury
    loads: dict[str, int]
    assignments_added: int = 0


async def get_jury(*, uow: Uow, call_id: uuid.UUID) -> JuryState:
    async with uow:
        await _known_call(uow.repo, call_id)
        jury = await uow.repo.get_jury(call_id)
        if jury is None:
            raise NotFound(f"no jury has been set for call {call_id}")
        return JuryState(jury=jury, loads=await uow.repo.juror_loads(call_id))


async def set_jury(
    *, uow: Uow, call_id: uuid.UUID, jury: Jury, operator_id: str, scoring_period: timedelta
) -> JuryState:
    """Store the call's panel, drop assignments the panel now declares conflicted, and fill open evaluations.

    A changed scoring deadline becomes that of every assignment to an open evaluation of the call (removed: each
    gets ``scoring_period`` after it was made).
    """
    problems = domain.jury_problems(jury.jurors)
    if problems:
        raise Invalid.of(problems)
    added = 0
    with bind_event_context(case_id=None, correlation_id=uow.origin.correlation_id, call_id=str(call_id)):
        async with uow:
            repo = uow.repo
            await repo.lock_call(call_id)
            await _known_call(repo, call_id)
            before = await repo.get_jury(call_id)
            await repo.set_jury(call_id=call_id, jury=jury, updated_by=operator_id)
            if (before.scoring_due_at if before is not None else None) != jury.scoring_due_at:
                await repo.reschedule_assignments(
                    [
                        (
                            case_id,
                            juror_id,
                            domain.scoring_due_at(
                                jury_deadline=jury.scoring_due_at,
                                assigned_at=assigned_at,
                                scoring_period=scoring_period,
                            ),
                        )
                        for case_id, juror_id, assigned_at in await repo.open_assignments_of_call(call_id)
                    ]
                )
            for evaluation in await repo.open_evaluations_of_call(call_id):
                conflicted = domain.conflicted_jurors(
                    jury.jurors,
                    case_id=evaluation.case_id,
                    organisation_id=evaluation.organisation_id,
                    assigned=await repo.assigned_jurors(evaluation.case_id),
                )
                for juror_id in conflicted:
                    await repo.remove_assignment(case_id=evaluation.case_id, juror_id=juror_id)
                    log.info("conflicted juror unassigned", case_id=str(evaluation.case_id), juror_id=juror_id)
                assigned = await _top_up_jurors(repo, evaluation=evaluation, jury=jury, scoring_period=scoring_period)
                await _tell_jurors_assigned(uow, evaluation=evaluation, jury=jury, added=assigned)
                added += len(assigned)
            loads = await repo.juror_loads(call_id)
            await _record_completeness(uow, call_id)
            await uow.commit()
        log.info("jury set", jurors=len(jury.jurors), jurors_per_case=jury.jurors_per_case, assignments_added=added)
    return JuryState(jury=jury, loads=loads, assignments_added=added)


async def leaderboard(
    *, uow: Uow, call_id: uuid.UUID, category: Category | None, normalise: bool
) -> list[LeaderboardRow]:
    """Evaluated cases ranked per category, optionally of one category only."""
    async with uow:
        await _known_call(uow.repo, call_id)
        cases = await uow.repo.scored_cases(call_id)
    return [
        r for r in domain.leaderboard(cases, normalise=normalise) if category is None or r.category == category.value
    ]


async def publish_results(*, uow: Uow, call_id: uuid.UUID) -> list[uuid.UUID]:
    """Release every decided evaluation of the call at once (one ResultsPublishedV1 each, with the jury's
    feedback); from then on their decisions are final. Evaluations still open wait for a later publication."""
    with bind_event_context(case_id=None, correlation_id=uow.origin.correlation_id, call_id=str(call_id)):
        async with uow:
            await _known_call(uow.repo, call_id)
            # Exclusive call lock: a decision being taken (shared lock) commits before, or waits until after.
            await uow.repo.lock_call(call_id)
            decided = await uow.repo.decided_evaluations_of_call(call_id)
            for evaluation in decided:
                domain.transition(evaluation.status, EvaluationAction.PUBLISH)  # decided → published
                assert evaluation.outcome is not None
                await uow.emit(
                    ResultsPublishedV1(
                        case_id=evaluation.case_id,
                        call_id=call_id,
                        outcome=AwardOutcome(evaluation.outcome),
                        feedback=evaluation.feedback or "",
                    )
                )
            published = [e.case_id for e in decided]
            await uow.repo.mark_published(published, status=EvaluationStatus.PUBLISHED)
            await uow.commit()
        log.info("results published", cases=len(published))
    return published


# --------------------------------------------------------------------------- evaluations: operators


async def list_evaluations(
    *, uow: Uow, call_id: uuid.UUID | None, status: EvaluationStatus | None, limit: int, offset: int
) -> tuple[list[Evaluation], int]:
    async with uow:
        return await uow.repo.list_evaluations(call_id=call_id, status=status, limit=limit, offset=offset)


@dataclass(frozen=True)
class EvaluationDetail:
    evaluation: Evaluation
    assigned: list[str]
    scorecards: list[Scorecard]
    recused: set[str]
    dossier: Dossier = NO_DOSSIER


async def evaluation_detail(*, uow: Uow, case_id: uuid.UUID) -> EvaluationDetail:
    async with uow:
        evaluation = await uow.repo.get_evaluation(case_id)
        if evaluation is None:
            raise NotFound(f"no evaluation of case {case_id}")
        return EvaluationDetail(
            evaluation=evaluation,
            assigned=await uow.repo.assigned_jurors(case_id),
            scorecards=await uow.repo.scorecards(case_id),
            recused=await uow.repo.recused_jurors(case_id),
            dossier=(await uow.repo.dossiers([case_id]))[case_id],
        )


async def decide(*, uow: Uow, case_id: uuid.UUID, outcome: AwardOutcome, feedback: str, operator_id: str) -> Evaluation:
    """Decide the outcome once every assigned juror has scored; emits AwardDecidedV1. Returns the decided record.

    Until the call's results are published a new decision replaces the last (outcome, feedback and the standing
    taken again) and is announced again; after publication it is refused.
    """
    with bind_event_context(case_id=str(case_id), correlation_id=uow.origin.correlation_id):
        async with uow:
            repo = uow.repo
            evaluation = await _locked_evaluation(repo, case_id, shared=True)
            new_status = domain.transition(evaluation.status, EvaluationAction.DECIDE)
            cards = await repo.scorecards(case_id)
            domain.ensure_decidable(await repo.assigned_jurors(case_id), [c.juror_id for c in cards])
            jury = await repo.get_jury(evaluation.call_id)
            weighted, rank = domain.standing(await repo.scored_cases(evaluation.call_id), case_id)
            decided = await repo.record_decision(
                case_id=case_id,
                status=new_status,
                outcome=outcome.value,
                feedback=feedback,
                weighted_score=weighted,
                rank_in_category=rank,
                decided_by=operator_id,
            )
            await uow.emit(
                AwardDecidedV1(
                    case_id=case_id,
                    call_id=evaluation.call_id,
                    outcome=outcome,
                    weighted_score=weighted,
                    rank_in_category=rank,
                    feedback=feedback,
                    scored_by=[domain.addressee(jury, c.juror_id) for c in cards],
                )
            )
            await uow.commit()
        log.info(
            "award decided",
            outcome=outcome.value,
            weighted_score=weighted,
            rank_in_category=rank,
            replaces=evaluation.outcome,
        )
    return decided


# --------------------------------------------------------------------------- jurors


@dataclass(frozen=True)
class AssignedCase:
    """An evaluation on a juror's work list with the whole case: its content and review history."""

    assignment: Assignment
    dossier: Dossier


async def juror_assignments(
    *, uow: Uow, juror_id: str, status: EvaluationStatus | None, limit: int, offset: int
) -> tuple[list[AssignedCase], int]:
    async with uow:
        assignments, total = await uow.repo.juror_assignments(
            juror_id=juror_id, status=status, limit=limit, offset=offset
        )
        dossiers = await uow.repo.dossiers([a.evaluation.case_id for a in assignments])
    return [AssignedCase(a, dossiers[a.evaluation.case_id]) for a in assignments], total


async def juror_assignment(*, uow: Uow, case_id: uuid.UUID, juror_id: str) -> AssignedCase:
    """One case on the juror's work list; a case they are not assigned to does not exist for them."""
    async with uow:
        assignment = await uow.repo.juror_assignment(juror_id=juror_id, case_id=case_id)
        if assignment is None:
            raise NotFound(f"no evaluation of case {case_id}")
        dossiers = await uow.repo.dossiers([case_id])
    return AssignedCase(assignment, dossiers[case_id])


async def submit_scores(
    *, uow: Uow, case_id: uuid.UUID, juror_id: str, scores: Sequence[ScoreEntry], overall_comment: str
) -> tuple[Evaluation, Scorecard]:
    """Score every criterion once; a resubmission replaces the juror's earlier scores."""
    with bind_event_context(case_id=str(case_id), correlation_id=uow.origin.correlation_id):
        async with uow:
            # Shared call lock: criteria cannot change while scores against them are being written.
            evaluation = await _locked_evaluation(uow.repo, case_id, shared=True, juror_id=juror_id)
            domain.transition(evaluation.status, EvaluationAction.SCORE)
            problems = domain.score_problems(evaluation.criteria, scores)
            if problems:
                raise Invalid.of(problems)
            card = await uow.repo.save_scorecard(
                case_id=case_id, juror_id=juror_id, scores=scores, overall_comment=overall_comment
            )
            await _record_completeness(uow, evaluation.call_id)
            await uow.commit()
        log.info("scores submitted", juror_id=juror_id)
    return evaluation, card


async def declare_conflict(
    *, uow: Uow, case_id: uuid.UUID, juror_id: str, reason: str, scoring_period: timedelta
) -> list[str]:
    """The juror recuses themselves: unassigned (scores dropped), and replacements assigned if the panel allows.

    Returns the replacements.
    """
    with bind_event_context(case_id=str(case_id), correlation_id=uow.origin.correlation_id):
        async with uow:
            repo = uow.repo
            evaluation = await _locked_evaluation(repo, case_id, shared=False, juror_id=juror_id)
            domain.transition(evaluation.status, EvaluationAction.DECLARE_CONFLICT)
            await repo.remove_assignment(case_id=case_id, juror_id=juror_id)
            await repo.add_recusal(case_id=case_id, juror_id=juror_id, reason=reason)
            jury = await repo.get_jury(evaluation.call_id) or NO_JURY
            replacements = await _top_up_jurors(repo, evaluation=evaluation, jury=jury, scoring_period=scoring_period)
            await _tell_jurors_assigned(uow, evaluation=evaluation, jury=jury, added=replacements)
            await _record_completeness(uow, evaluation.call_id)
            await uow.commit()
        log.info("juror declared a conflict", juror_id=juror_id, replacements=list(replacements))
    return list(replacements)


async def remind_juror(*, uow: Uow, lead: timedelta) -> bool:
    """Remind one juror whose scores are due within ``lead`` (or overdue) and who has not scored an open case
    (ScoringDueV1), once per assignment; False when nobody is left to remind.

    The reminder job gives each a unit of work with a fresh correlation id: nothing triggered it, so a new chain of
    events starts with it. The claim and the event commit together, so two instances never remind twice.
    """
    async with uow:
        now = await uow.repo.transaction_time()
        due = await uow.repo.claim_due_reminder(due_until=domain.reminders_due_until(now=now, lead=lead))
        if due is None:
            return False
        with (
            tracing.span("remind juror", attributes={"cloudevents.event_subject": str(due.case_id)}),
            bind_event_context(case_id=str(due.case_id), correlation_id=uow.origin.correlation_id),
        ):
            await uow.emit(
                ScoringDueV1(
                    case_id=due.case_id,
                    call_id=due.call_id,
                    case_title=due.case_title,
                    call_title=due.call_title,
                    juror=domain.addressee(await uow.repo.get_jury(due.call_id), due.juror_id),
                    due_at=due.scoring_due_at,
                )
            )
            await uow.commit()
            log.info("juror reminded to score", juror_id=due.juror_id, due_at=str(due.scoring_due_at))
    return True


# --------------------------------------------------------------------------- review and intake events


async def open_evaluation(*, uow: Uow, nomination: CaseNominatedV1, scoring_period: timedelta) -> None:
    """Create the evaluation with the call's criteria, assign k non-conflicted jurors and announce it.

    EvaluationOpenedV1 comes first, then the jurors' JurorsAssignedV1; the open, unscored evaluation makes the
    call's evaluation incomplete again.
    """
    async with uow:
        repo = uow.repo
        await repo.lock_call(nomination.call_id)
        call = await repo.get_call(nomination.call_id)
        criteria, source = domain.criteria_in_force(override=await repo.get_criteria(nomination.call_id), call=call)
        if call is None:
            # The announcement travels on another topic and may come later; it then gives this evaluation the
            # call's criteria (no juror can score before: a jury needs a known call).
            log.warning("nomination for a call awards has not learned yet; default criteria until it is announced")
        # The withdrawal travels on another topic and may overtake the nomination.
        if await repo.was_withdrawn(nomination.case_id):
            await repo.insert_evaluation(case=nomination.header(), criteria=criteria, status=EvaluationStatus.WITHDRAWN)
            await uow.commit()
            log.info("nominated case was already withdrawn; evaluation not opened")
            return
        if not await repo.insert_evaluation(case=nomination.header(), criteria=criteria, status=EvaluationStatus.OPEN):
            log.info("case already has an evaluation; nomination ignored")
            return
        evaluation = await repo.get_evaluation(nomination.case_id)
        assert evaluation is not None
        jury = await repo.get_jury(nomination.call_id) or NO_JURY
        assigned = await _top_up_jurors(repo, evaluation=evaluation, jury=jury, scoring_period=scoring_period)
        juror_ids = list(assigned)
        await uow.emit(
            EvaluationOpenedV1(
                case_id=nomination.case_id, call_id=nomination.call_id, criteria=list(criteria), juror_ids=juror_ids
            )
        )
        await _tell_jurors_assigned(uow, evaluation=evaluation, jury=jury, added=assigned)
        await _record_completeness(uow, nomination.call_id)
        await uow.commit()
    log.info("evaluation opened", juror_ids=juror_ids, criteria=[c.key for c in criteria], criteria_source=source)


async def withdraw_evaluation(*, uow: Uow, withdrawal: CaseWithdrawnV1) -> None:
    """Close the evaluation, or remember the withdrawal if the nomination has not arrived yet.

    The rest of the call's open evaluations may be all scored now: then it is complete.
    """
    async with uow:
        repo = uow.repo
        if await repo.get_evaluation(withdrawal.case_id) is None:
            await repo.remember_withdrawal(case_id=withdrawal.case_id, call_id=withdrawal.call_id)
            await uow.commit()
            log.info("case withdrawn before any evaluation; remembered")
            return
        # The call's lock before the evaluation's row, as everywhere (no deadlock with a scorer or a jury change).
        evaluation = await _locked_evaluation(repo, withdrawal.case_id, shared=True)
        try:
            new_status = domain.transition(evaluation.status, EvaluationAction.WITHDRAW)
        except InvalidTransition as exc:
            # Nothing to undo (already withdrawn): a domain no-op, not a failure worth dead-lettering.
            log.info("withdrawal ignored", reason=str(exc))
            return
        if evaluation.status is EvaluationStatus.PUBLISHED:
            log.warning("case withdrawn after its result was published; marked withdrawn anyway")
        await repo.mark_withdrawn(case_id=withdrawal.case_id, status=new_status)
        await _record_completeness(uow, evaluation.call_id)
        await uow.commit()
    log.info("evaluation withdrawn", previous_status=evaluation.status.value)


async def learn_call(*, uow: Uow, announcement: CallAnnouncedV1) -> None:
    """Learn a call from intake's announcement; older revisions than the one known are ignored.

    The announced criteria follow ``domain.announced_criteria_effect``: they become the call's criteria and
    those of its open evaluations unless an operator overrode them in awards, and never once the call has scores.
    """
    call_id = announcement.call_id
    with bind_event_context(case_id=None, correlation_id=uow.origin.correlation_id, call_id=str(call_id)):
        async with uow:
            repo = uow.repo
            await repo.lock_call(call_id)  # exclusively: no score or criteria change meanwhile
            known = await repo.get_call(call_id)
            known_revision = known.revision if known is not None else None
            if not domain.is_newer_announcement(known_revision=known_revision, revision=announcement.revision):
                log.info("stale call announcement ignored", revision=announcement.revision, known=known_revision)
                return
            effect = domain.announced_criteria_effect(
                known=known.criteria if known is not None else None,
                announced=announcement.criteria,
                overridden=await repo.get_criteria(call_id) is not None,
                scored=await repo.call_has_scores(call_id),
            )
            await repo.save_call(announcement, keep_criteria=effect is AnnouncedCriteria.FROZEN)
            updated = 0
            if effect is AnnouncedCriteria.APPLIED:
                updated = await repo.replace_open_criteria(call_id=call_id, criteria=announcement.criteria)
            await uow.commit()
        if effect is AnnouncedCriteria.FROZEN:
            log.warning(
                "call announced with other criteria after its first score; the criteria in force stay",
                revision=announcement.revision,
            )
        log.info(
            "call learned",
            revision=announcement.revision,
            criteria=effect.value,
            open_evaluations_updated=updated,
        )


# --------------------------------------------------------------------------- what jurors read, from case events


async def record_case_content(
    *,
    uow: Uow,
    case: CaseSnapshot,
    at: datetime,
    change_note: str | None = None,
    addressed_points: Sequence[uuid.UUID] = (),
) -> None:
    """Keep a submitted or revised case's content for its jurors (the latest revision wins); a revision also
    leaves its note and the feedback points it addresses (``change_note`` is None for a submission)."""
    async with uow:
        repo = uow.repo
        await repo.save_case_content(case_id=case.case_id, call_id=case.call_id, content=domain.case_content(case))
        if change_note is not None:
            note = RevisionNote(case.revision, change_note, tuple(addressed_points), at)
            await repo.record_revision_note(case_id=case.case_id, note=note)
        await uow.commit()
    log.info("case content kept for the jury", revision=case.revision)


async def record_review_round(*, uow: Uow, event: ReviewRoundEvent, at: datetime) -> None:
    """Add what a review event tells of an iteration to the case's review history."""
    step = domain.review_round(event, at=at)
    if step is None:
        return
    async with uow:
        if isinstance(step, RoundOpened):
            await uow.repo.record_round_opened(case_id=event.case_id, opened=step)
        else:
            await uow.repo.record_round_settled(case_id=event.case_id, settled=step)
        await uow.commit()


# The dashboard's leaderboard and spreads cover the calls being scored, newest first, at most this many; the leaderboard
# shows the best this many cases per call and category (the call's page has all of them); the spreads the widest this
# many cases of those calls.
GLANCE_CALLS = 5
GLANCE_LEADERS = 5  # the caption (glance_leaderboard) says "the best five"
GLANCE_SPREADS = 15


async def at_a_glance(*, uow: UnitOfWork[AwardsRepository]) -> list[Glance]:
    """The operator dashboard's domain section: scoring progress (scored / assigned) per call and per juror, the
    inter-rater spread per case, and the leaderboard per call and category (the operator's call page's query)."""
    async with uow:
        calls = await uow.repo.scoring_per_call()
        jurors = await uow.repo.scoring_per_juror()
        scored = [(c, await uow.repo.scored_cases(c.call_id)) for c in calls[:GLANCE_CALLS]]
    leaders = [
        (call.call_title, row)
        for call, cases in scored
        for row in domain.leaderboard(cases, normalise=False)
        if row.rank <= GLANCE_LEADERS
    ]
    spreads = sorted(
        ((call.call_title, spread) for call, cases in scored for spread in domain.score_spread(cases)),
        key=lambda e: -(e[1].highest - e[1].lowest),
    )[:GLANCE_SPREADS]
    return [
        Glance(
            caption="glance_scoring_per_call",
            columns=("glance_call", "glance_scored", "glance_assigned"),
            rows=[(c.call_title, c.scored, c.assigned) for c in calls],
            test_id="scoring-per-call",
        ),
        Glance(
            caption="glance_scoring_per_juror",
            columns=("glance_juror", "glance_scored", "glance_assigned"),
            rows=[(j.juror_id, j.scored, j.assigned) for j in jurors],
            test_id="scoring-per-juror",
        ),
        Glance(
            caption="glance_spread",
            columns=(
                "glance_call",
                "awards.case",
                "awards.jurors_scored",
                "glance_lowest",
                "glance_highest",
                "glance_sd",
                "glance_spread_flag",
            ),
            rows=[
                (
                    call_title,
                    s.title,
                    s.jurors_scored,
                    round(s.lowest, 2),
                    round(s.highest, 2),
                    round(s.sd, 2),
                    Word("glance_spread_large") if s.large else None,
                )
                for call_title, s in spreads
            ],
            test_id="spread",
        ),
        Glance(
            caption="glance_leaderboard",
            columns=(
                "glance_call",
                "awards.category",
                "awards.rank",
                "awards.case",
                "awards.weighted_score",
                "awards.jurors_scored",
            ),
            rows=[
                (
                    call_title,
                    Label("category", r.category),
                    r.rank,
                    r.title,
                    round(r.weighted_score, 2),
                    f"{r.jurors_scored} / {r.jurors_assigned}",
                )
                for call_title, r in leaders
            ],
            test_id="leaderboard",
        ),
    ]
