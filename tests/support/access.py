"""Who may call what: every HTTP endpoint and page of the four services × every role (and no token) × whether the
resource is the caller's own, in one table.

It is a specification the code is held to, not what the code reads: each route enforces its roles itself (a
``RoleCheck`` or ``PageFor`` dependency, shared/auth.py and shared/web/pages.py) and its use case decides what is
the caller's own (workflow.py). Three tests keep the table and the code one:

- tests/unit/test_access_table.py: every route of every service (its OpenAPI's operations, the pages, the
  documentation and probes) has exactly one row, and each row's roles are the roles the route's dependency admits
  (the OpenAPI's ``x-roles``, or the page's ``PageFor``); docs/access.md is this table, written by ``markdown()``.
- tests/integration/test_access_matrix.py: one request per cell against the four services running on the real Kafka
  and PostgreSQL, with resources of the caller's own and of someone else's, answering exactly as the cell says.

``python -m tests.support.access > docs/access.md`` writes the document again.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum

from shared import registry
from shared.vocabulary import Role


class Outcome(StrEnum):
    ALLOWED = "allowed"  # not refused: a 2xx, or a refusal of the request's content or state (409, 422)
    UNAUTHENTICATED = "401"  # the API, no (valid) token
    SIGN_IN = "sign-in"  # a page, no session: 303 to /sign-in?next=…
    FORBIDDEN = "403"  # a role the route does not admit (an API JSON body, or a page saying so)
    HIDDEN = "404"  # admitted, but the resource is not theirs to see: told it does not exist


class Relation(StrEnum):
    OWN = "own"
    OTHER = "other"


@dataclass(frozen=True)
class Grant:
    """What an admitted role gets, on a resource of its own and on someone else's."""

    own: Outcome
    other: Outcome


ANY = Grant(Outcome.ALLOWED, Outcome.ALLOWED)
OWN = Grant(Outcome.ALLOWED, Outcome.HIDDEN)
NEVER = Grant(Outcome.HIDDEN, Outcome.HIDDEN)  # admitted by the route, but every such resource is hidden
NOT_OWN = Grant(Outcome.HIDDEN, Outcome.ALLOWED)  # the conflict rule: not of their own organisation


@dataclass(frozen=True)
class Resource:
    """A kind of resource whose owner matters, and what "own" and "other's" mean for each role it matters to."""

    name: str
    own: Mapping[Role, str]
    other: Mapping[Role, str]


CASE = Resource(
    "case",
    own={Role.SUBMITTER: "a case they submitted"},
    other={Role.SUBMITTER: "another submitter's case"},
)
REVIEWED_CASE = Resource(
    "case in review",
    own={Role.SUBMITTER: "a case they submitted", Role.REVIEWER: "a case of their own organisation"},
    other={Role.SUBMITTER: "another submitter's case", Role.REVIEWER: "another organisation's case"},
)
TASK = Resource(
    "review task",
    own={Role.REVIEWER: "a task they hold"},
    other={Role.REVIEWER: "a task another reviewer holds"},
)
EVALUATION = Resource(
    "evaluation",
    own={Role.JUROR: "a case they are assigned to"},
    other={Role.JUROR: "a case they are not assigned to"},
)
FEED_ITEM = Resource(
    "in-app notification",
    own={r: "their own" for r in Role},
    other={r: "another person's" for r in Role},
)


@dataclass(frozen=True)
class Cell:
    endpoint: Endpoint
    role: Role | None  # None: no token
    relation: Relation | None  # None where ownership does not apply
    expected: Outcome

    def __str__(self) -> str:
        who = str(self.role) if self.role else "no token"
        whose = f" ({self.relation})" if self.relation else ""
        return f"{self.endpoint}: {who}{whose} → {self.expected}"


@dataclass(frozen=True)
class Endpoint:
    service: str
    method: str
    path: str
    page: bool  # an HTML page (a session or token; refusals are pages) rather than the JSON API
    grants: Mapping[Role, Grant] | None  # the roles the route admits; None: public, no token needed
    resource: Resource | None = None
    note: str = ""

    def __str__(self) -> str:
        return f"{self.service} {self.method} {self.path}"

    @property
    def roles(self) -> frozenset[Role] | None:
        return None if self.grants is None else frozenset(self.grants)

    def expected(self, role: Role | None, relation: Relation | None = None) -> Outcome:
        if self.grants is None:
            return Outcome.ALLOWED
        if role is None:
            return Outcome.SIGN_IN if self.page else Outcome.UNAUTHENTICATED
        grant = self.grants.get(role)
        if grant is None:
            return Outcome.FORBIDDEN
        return grant.other if relation is Relation.OTHER else grant.own

    def relations(self, role: Role) -> tuple[Relation | None, ...]:
        if self.grants is None or role not in self.grants or self.resource is None:
            return (None,)
        return (Relation.OWN, Relation.OTHER) if role in self.resource.own else (None,)

    def cells(self) -> Iterator[Cell]:
        yield Cell(self, None, None, self.expected(None))
        for role in Role:
            for relation in self.relations(role):
                yield Cell(self, role, relation, self.expected(role, relation))


def _grants(**by_role: Grant) -> dict[Role, Grant]:
    return {Role(name): grant for name, grant in by_role.items()}


EVERYONE = _grants(submitter=ANY, reviewer=ANY, juror=ANY, operator=ANY)
OPERATOR = _grants(operator=ANY)


def _api(service: str, method: str, path: str, grants: Mapping[Role, Grant] | None, **kw: object) -> Endpoint:
    return Endpoint(service, method, path, page=False, grants=grants, **kw)  # type: ignore[arg-type]


def _page(service: str, method: str, path: str, grants: Mapping[Role, Grant] | None, **kw: object) -> Endpoint:
    return Endpoint(service, method, path, page=True, grants=grants, **kw)  # type: ignore[arg-type]


def _every_service(service: str) -> list[Endpoint]:
    """What shared/service.py gives every service: documentation, probes, operations and the shared pages."""
    return [
        *(_api(service, "GET", p, None) for p in ("/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc")),
        *(_api(service, "GET", p, None) for p in ("/health/live", "/health/ready", "/metrics")),
        *(_api(service, "GET", p, None) for p in ("/asyncapi.json", "/asyncapi")),
        _api(service, "GET", "/ops/status", OPERATOR),
        _api(service, "GET", "/ops/dead-letters", OPERATOR),
        _api(service, "POST", "/ops/dead-letters/{dead_letter_id}/replay", OPERATOR),
        _api(service, "POST", "/ops/dead-letters/replay-all", OPERATOR),
        _api(service, "POST", "/ops/dead-letters/{dead_letter_id}/discard", OPERATOR),
        _page(service, "GET", "/", EVERYONE),
        _page(service, "GET", "/sign-in", None),
        _page(service, "POST", "/sign-in", None),
        _page(service, "POST", "/sign-out", None),
        _page(service, "GET", "/ops", OPERATOR),
        _page(service, "GET", "/ops/live", OPERATOR),
        _page(service, "POST", "/ops/dashboard/dead-letters/{dead_letter_id}/replay", OPERATOR),
        _page(service, "POST", "/ops/dashboard/dead-letters/replay-all", OPERATOR),
        _page(service, "POST", "/ops/dashboard/dead-letters/{dead_letter_id}/discard", OPERATOR),
    ]


CASE_READERS = _grants(submitter=OWN, reviewer=NEVER, juror=NEVER, operator=ANY)

INTAKE = [
    _api("intake", "POST", "/calls", OPERATOR),
    _api("intake", "PATCH", "/calls/{call_id}", OPERATOR),
    _api("intake", "GET", "/calls", EVERYONE),
    _api("intake", "GET", "/calls/{call_id}", EVERYONE),
    _api("intake", "POST", "/cases", _grants(submitter=ANY)),
    _api("intake", "GET", "/cases", _grants(submitter=ANY, operator=ANY), note="a submitter lists their own only"),
    _api("intake", "GET", "/cases/{case_id}", CASE_READERS, resource=CASE),
    _api("intake", "GET", "/cases/{case_id}/feedback", CASE_READERS, resource=CASE),
    _api("intake", "POST", "/cases/{case_id}/revisions", _grants(submitter=OWN), resource=CASE),
    _api("intake", "POST", "/cases/{case_id}/withdraw", _grants(submitter=OWN), resource=CASE),
    _page("intake", "GET", "/submitter/calls", _grants(submitter=ANY)),
    _page("intake", "GET", "/submitter/calls/{call_id}/submit", _grants(submitter=ANY)),
    _page("intake", "POST", "/submitter/calls/{call_id}/submit", _grants(submitter=ANY)),
    _page("intake", "GET", "/submitter/cases", _grants(submitter=ANY), note="their own only"),
    _page("intake", "GET", "/submitter/cases/{case_id}", _grants(submitter=OWN), resource=CASE),
    _page("intake", "POST", "/submitter/cases/{case_id}/revise", _grants(submitter=OWN), resource=CASE),
    _page("intake", "POST", "/submitter/cases/{case_id}/withdraw", _grants(submitter=OWN), resource=CASE),
    _page("intake", "GET", "/operator/calls", OPERATOR),
    _page("intake", "POST", "/operator/calls", OPERATOR),
    _page("intake", "GET", "/operator/calls/{call_id}", OPERATOR),
    _page("intake", "POST", "/operator/calls/{call_id}/window", OPERATOR),
]

REVIEW = [
    _api("review", "POST", "/tasks/claim", _grants(reviewer=ANY), note="never a case of their own organisation"),
    _api("review", "GET", "/tasks/{task_id}", _grants(reviewer=OWN, operator=ANY), resource=TASK),
    _api("review", "POST", "/tasks/{task_id}/decision", _grants(reviewer=OWN), resource=TASK),
    _api("review", "POST", "/tasks/{task_id}/release", _grants(reviewer=OWN), resource=TASK),
    _api("review", "GET", "/queue", OPERATOR),
    _api(
        "review",
        "GET",
        "/cases/{case_id}/iterations",
        _grants(submitter=OWN, reviewer=NOT_OWN, operator=ANY),
        resource=REVIEWED_CASE,
        note="who decided what: operators and reviewers only",
    ),
    _page("review", "GET", "/reviewer", _grants(reviewer=ANY)),
    _page("review", "POST", "/reviewer/claim", _grants(reviewer=ANY)),
    _page("review", "GET", "/reviewer/tasks/{task_id}", _grants(reviewer=OWN), resource=TASK),
    _page("review", "POST", "/reviewer/tasks/{task_id}/decide", _grants(reviewer=OWN), resource=TASK),
    _page("review", "POST", "/reviewer/tasks/{task_id}/release", _grants(reviewer=OWN), resource=TASK),
]

AWARDS = [
    _api("awards", "PUT", "/calls/{call_id}/criteria", OPERATOR),
    _api("awards", "GET", "/calls/{call_id}/criteria", OPERATOR),
    _api("awards", "PUT", "/calls/{call_id}/jury", OPERATOR),
    _api("awards", "GET", "/calls/{call_id}/jury", OPERATOR),
    _api("awards", "GET", "/calls/{call_id}/leaderboard", OPERATOR),
    _api("awards", "GET", "/evaluations", OPERATOR),
    _api("awards", "GET", "/evaluations/{case_id}", OPERATOR, note="every juror's scores"),
    _api("awards", "POST", "/evaluations/{case_id}/decision", OPERATOR),
    _api("awards", "GET", "/assignments", _grants(juror=ANY), note="their own only"),
    _api("awards", "GET", "/assignments/{case_id}", _grants(juror=OWN), resource=EVALUATION),
    _api("awards", "PUT", "/evaluations/{case_id}/scores", _grants(juror=OWN), resource=EVALUATION),
    _api("awards", "POST", "/calls/{call_id}/results/publish", OPERATOR),
    _page("awards", "GET", "/juror", _grants(juror=ANY), note="their own only"),
    _page("awards", "GET", "/juror/cases/{case_id}", _grants(juror=OWN), resource=EVALUATION),
    _page("awards", "POST", "/juror/cases/{case_id}/scores", _grants(juror=OWN), resource=EVALUATION),
    _page("awards", "POST", "/juror/cases/{case_id}/conflict", _grants(juror=OWN), resource=EVALUATION),
    _page("awards", "GET", "/operator/calls/{call_id}", OPERATOR),
    _page("awards", "POST", "/operator/calls/{call_id}/jury", OPERATOR),
    _page("awards", "POST", "/operator/calls/{call_id}/criteria", OPERATOR),
    _page("awards", "POST", "/operator/calls/{call_id}/cases/{case_id}/decision", OPERATOR),
    _page("awards", "POST", "/operator/calls/{call_id}/publish", OPERATOR),
    _api("awards", "POST", "/evaluations/{case_id}/conflict", _grants(juror=OWN), resource=EVALUATION),
]

NOTIFY = [
    _api("notify", "GET", "/feed", EVERYONE, note="their own only"),
    _api("notify", "POST", "/feed/{item_id}/read", _grants(**{str(r): OWN for r in Role}), resource=FEED_ITEM),
    _api("notify", "GET", "/deliveries", OPERATOR),
    _api("notify", "GET", "/cases/{case_id}/deliveries", OPERATOR),
    _api("notify", "POST", "/webhooks", OPERATOR),
    _api("notify", "GET", "/webhooks", OPERATOR),
    _api("notify", "DELETE", "/webhooks/{webhook_id}", OPERATOR),
]

OWN_ENDPOINTS = {"intake": INTAKE, "review": REVIEW, "awards": AWARDS, "notify": NOTIFY}

TABLE: list[Endpoint] = [e for s in registry.SERVICE_NAMES for e in (*OWN_ENDPOINTS[s], *_every_service(s))]
"""Every endpoint of every service, in the order of the registry: the service's own, then those all share."""


def endpoints(service: str) -> list[Endpoint]:
    return [e for e in TABLE if e.service == service]


def cells() -> list[Cell]:
    return [c for e in TABLE for c in e.cells()]


# --------------------------------------------------------------------------- the document

_SYMBOL = {
    Outcome.ALLOWED: "✓",
    Outcome.UNAUTHENTICATED: "401",
    Outcome.SIGN_IN: "sign-in",
    Outcome.FORBIDDEN: "403",
    Outcome.HIDDEN: "404",
}


def _cell_text(endpoint: Endpoint, role: Role | None) -> str:
    if role is None:
        return _SYMBOL[endpoint.expected(None)]
    relations = endpoint.relations(role)
    if relations == (None,):
        return _SYMBOL[endpoint.expected(role)]
    own, other = (endpoint.expected(role, r) for r in relations)
    return f"own {_SYMBOL[own]}, other's {_SYMBOL[other]}"


def markdown() -> str:
    roles = list(Role)
    lines = [
        "# Who may call what",
        "",
        "<!-- Written by `python -m tests.support.access > docs/access.md` from the table in tests/support/access.py;",
        "     tests/unit/test_access_table.py fails when the two differ. Do not edit by hand. -->",
        "",
        "Every HTTP endpoint and page of the four services, for a caller with no token and for each role. "
        "Where it matters whose the resource is, the cell says what the caller gets on their own and on someone "
        "else's (what *own* means is below the tables). tests/integration/test_access_matrix.py sends one request "
        f"per cell ({len(cells())} in all) to the four services running on the real Kafka and PostgreSQL and "
        "checks each answer; tests/unit/test_access_table.py checks that every route has its row and that each "
        "row's roles are the ones the route's own dependency admits.",
        "",
        "- **✓** allowed: not refused (a 2xx, or a refusal of the request's content or of the state: 409, 422);",
        "- **401** no token, or one that is not valid (expired, badly signed... docs/pages.md): always one and the "
        "same body;",
        "- **403** the role is not one the endpoint admits (a page says so in a page);",
        "- **404** admitted, but the resource is not the caller's to see: they are told it does not exist, exactly "
        "as for one that does not;",
        "- **sign-in** a page without a session: a 303 to `/sign-in?next=…`.",
        "",
        "A person may hold several roles; a route admits them when any of their roles is admitted.",
    ]
    for service in registry.SERVICE_NAMES:
        lines += [
            "",
            f"## {service}",
            "",
            "| endpoint | no token | " + " | ".join(str(r) for r in roles) + " | |",
            "|---|---|" + "---|" * len(roles) + "---|",
        ]
        for e in endpoints(service):
            kind = "page " if e.page else ""
            row = [f"{kind}`{e.method} {e.path}`", _cell_text(e, None), *(_cell_text(e, r) for r in roles), e.note]
            lines.append("| " + " | ".join(row) + " |")
    lines += ["", "## What *own* means", "", "| resource | role | own | other's |", "|---|---|---|---|"]
    for resource in (CASE, REVIEWED_CASE, TASK, EVALUATION):
        for role, own in resource.own.items():
            lines.append(f"| {resource.name} | {role} | {own} | {resource.other[role]} |")
    lines.append(f"| {FEED_ITEM.name} | every role | their own | another person's |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    import sys

    sys.stdout.write(markdown())
