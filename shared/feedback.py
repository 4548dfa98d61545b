"""Feedback points: what the contract's ``point_id`` and ``addressed_points`` mean, defined once for every reader.

Review gives a point id (``FeedbackItem.point_id``) to each unmet checklist item of an iteration settled with
"request changes": the points the submitter is asked to address. A revision says which points it addresses
(``CaseRevisedV1.addressed_points``; intake accepts only open points of the case). A point is open until the
first revision that addresses it; the reviewer of the next iteration may still judge the item unmet, which
is a new point of that iteration. Pure, no I/O: review and awards compute what their readers see with it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class PointStatus(StrEnum):
    OPEN = "open"
    ADDRESSED = "addressed"


@dataclass(frozen=True)
class PointState:
    status: PointStatus
    addressed_in_revision: int | None = None  # the revision that addressed the point, once addressed


OPEN = PointState(PointStatus.OPEN)


def point_states(
    point_ids: Iterable[uuid.UUID], revisions: Iterable[tuple[int, Iterable[uuid.UUID]]]
) -> dict[uuid.UUID, PointState]:
    """Each point's state, given each revision's number and the points it addresses (in any order).

    The earliest revision naming a point addressed it; ids a revision names that are not among ``point_ids``
    are not points of this case and change nothing.
    """
    addressed_in: dict[uuid.UUID, int] = {}
    for revision, addressed in sorted(((r, tuple(a)) for r, a in revisions), key=lambda r: r[0]):
        for point_id in addressed:
            addressed_in.setdefault(point_id, revision)
    return {p: PointState(PointStatus.ADDRESSED, addressed_in[p]) if p in addressed_in else OPEN for p in point_ids}
