"""Steps the e2e tests share: who acts, and driving a case through review and the jury over HTTP."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.harness import auth, eventually

OPERATOR = auth("operator", user="op-1", org="org-ops")
REVIEWER = auth("reviewer", user="rev-1", org="org-review")
JUROR_A = auth("juror", user="juror-a", org="org-jury-a")
JUROR_B = auth("juror", user="juror-b", org="org-jury-b")


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, f"{response.request.method} {response.request.url}: {response.text}"
    return response.json() if response.content else None


async def claim_task_of(http: httpx.AsyncClient, review: str, case_id: str) -> dict[str, Any]:
    """Claim review tasks until this case's comes up (the queue may be shared); then release the others."""
    held: list[str] = []

    async def claim() -> dict[str, Any] | None:
        response = await http.post(f"{review}/tasks/claim", headers=REVIEWER)
        if response.status_code == 204:
            return None
        task = ok(response)
        if task["case_id"] == case_id:
            return task
        held.append(task["task_id"])
        return None

    try:
        return await eventually(claim, timeout=60, what=f"a review task for case {case_id}")
    finally:
        for task_id in held:
            ok(await http.post(f"{review}/tasks/{task_id}/release", headers=REVIEWER))


async def score_as(http: httpx.AsyncClient, awards: str, case_id: str, juror: dict[str, str], points: int) -> None:
    """Once the case is on the juror's work list, score every criterion ``points``."""

    async def assignment() -> dict[str, Any] | None:
        page = ok(await http.get(f"{awards}/assignments", headers=juror))
        return next((a for a in page["items"] if a["case"]["case_id"] == case_id), None)

    assigned = await eventually(assignment, timeout=60, what="juror assignment")
    scores = [{"criterion": c["key"], "score": points, "comment": "Solid."} for c in assigned["criteria"]]
    assert len(scores) == 5  # the Quality Innovation Award's default criteria
    ok(await http.put(f"{awards}/evaluations/{case_id}/scores", headers=juror, json={"scores": scores}))


async def awards_knows_call(http: httpx.AsyncClient, awards: str, call_id: str) -> None:
    """Wait until awards has learned the call from intake's announcement (before then its call routes are 404)."""

    async def known() -> bool:
        return (await http.get(f"{awards}/calls/{call_id}/criteria", headers=OPERATOR)).status_code == 200

    await eventually(known, timeout=60, what=f"awards learning call {call_id}")
