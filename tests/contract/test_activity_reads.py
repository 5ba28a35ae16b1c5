"""The digest's reads (``ReadModels.activity`` and ``cost_between``): PostgreSQL's SQL and memory
give the same answers over the same events, appended through the real store at known times."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from eventstore.activity import Activity, GateDecision, Merge
from eventstore.events import parse_event
from eventstore.memory import InMemoryReadModels
from eventstore.postgres.read_models import PostgresReadModels
from eventstore.postgres.store import PostgresEventStore
from eventstore.read_models import ReadModels
from eventstore.stats import CostStat
from eventstore.store import PendingEvent

from ..conftest import FakeClock

START_MINUTES, DAY = 60, 24 * 60


def issue(repo: str, n: int) -> dict[str, Any]:
    return {"repo": repo, "issueNumber": n}


# (minutes after the clock's start, type, fields). The period is [60, 60 + 24 h).
EVENTS: list[tuple[float, str, dict[str, Any]]] = [
    (0, "ISSUE_APPROVED", issue("acme/app", 1)),
    (10, "PR_CREATED", {**issue("acme/app", 1), "prNumber": 10}),
    (20, "HUMAN_GATE_TRIGGERED", {**issue("acme/app", 1), "reason": "auth"}),
    (30, "ISSUE_DONE", issue("acme/app", 9)),  # before the period
    (30, "ESCALATED", issue("acme/app", 8)),
    (30, "TOKEN_USAGE", {"agentId": "dev-e-1", "repo": "acme/app", "issueNumber": 1, "costUsd": 5.0}),
    (60, "ESCALATED", issue("acme/app", 12)),  # at the period's start: in it
    (70, "HUMAN_GATE_APPROVED", {**issue("acme/app", 1), "decidedBy": "alice"}),
    (90, "MERGED", {**issue("acme/app", 1), "prNumber": 10}),
    (100, "PR_CREATED", {**issue("acme/app", 2), "prNumber": 11}),
    (110, "PR_CREATED", {**issue("acme/app", 2), "prNumber": 11}),  # sent again: the PR opened at 100
    (120, "PR_CREATED", {**issue("acme/app", 2), "prNumber": 12}),
    (130, "HUMAN_GATE_TRIGGERED", {**issue("acme/app", 2), "reason": "schema"}),
    (160, "HUMAN_GATE_REJECTED", {**issue("acme/app", 2), "decidedBy": "bob", "reason": "no"}),
    (170, "HUMAN_GATE_TRIGGERED", {**issue("acme/app", 2), "reason": "schema again"}),
    (190, "HUMAN_GATE_APPROVED", {**issue("acme/app", 2), "decidedBy": "bob"}),
    (200, "MERGED", {**issue("acme/app", 2), "prNumber": 11}),
    (210, "PR_CREATED", {**issue("other/x", 3), "prNumber": 5}),
    (220, "PR_CREATED", {**issue("other/x", 3), "prNumber": 6}),
    (300, "MERGED", issue("other/x", 3)),  # names no PR: the latest opened before it
    (310, "MERGED", {**issue("acme/app", 4), "prNumber": 99}),  # no PR_CREATED at all
    (400, "ISSUE_DONE", issue("acme/app", 1)),
    (410, "ISSUE_DONE", issue("acme/app", 1)),  # the same issue twice: one issue done
    (420, "ISSUE_DONE", issue("Acme/app", 5)),
    (430, "ESCALATED", issue("acme/app", 6)),
    (440, "AGENT_STUCK", {**issue("acme/app", 6), "agentId": "dev-e-1"}),
    (450, "AGENT_STUCK", {"agentId": "dev-e-2"}),  # on the agent's stream
    (500, "TOKEN_USAGE", {"agentId": "dev-e-1/abc12", "repo": "acme/app", "issueNumber": 1, "costUsd": 1.25,
                          "inputTokens": 1000, "outputTokens": 200}),
    (510, "TOKEN_USAGE", {"agentId": "dev-e-1", "repo": "acme/app", "issueNumber": 2, "costUsd": 0.75,
                          "inputTokens": 10, "outputTokens": 20}),
    (520, "TOKEN_USAGE", {"agentId": "dev-e-2", "repo": "", "issueNumber": 0, "costUsd": 0.5}),
    (530, "TOKEN_USAGE", {"agentId": "review-e", "repo": "other/x", "issueNumber": 3, "costUsd": 3.0,
                          "inputTokens": 7}),
    (START_MINUTES + DAY, "ISSUE_DONE", issue("acme/app", 11)),  # at the period's end: after it
    (START_MINUTES + DAY, "TOKEN_USAGE", {"agentId": "dev-e-1", "repo": "acme/app", "costUsd": 9.0}),
]


@pytest.fixture(params=["postgres", "memory"])
async def reads(request: pytest.FixtureRequest, store: PostgresEventStore,
                clock: FakeClock) -> AsyncIterator[tuple[ReadModels, datetime]]:
    start = clock.now
    for minutes, wire_name, fields in EVENTS:
        clock.now = start + timedelta(minutes=minutes)
        await store.append(PendingEvent.of(parse_event(wire_name, fields)))
    if request.param == "memory":
        yield InMemoryReadModels(events=await store.read_all(0, 1000)), start
    else:
        yield PostgresReadModels(store.pool), start


def at(start: datetime, minutes: float) -> datetime:
    return start + timedelta(minutes=minutes)


async def test_the_activity_of_a_period(reads: tuple[ReadModels, datetime]) -> None:
    models, t = reads
    found = await models.activity(at(t, START_MINUTES), at(t, START_MINUTES + DAY))
    assert found.done == ["Acme/app#5", "acme/app#1"]  # code point order
    # the two-strikes rule adds nothing here: one stuck report on acme/app#6
    assert found.escalated == ["acme/app#12", "acme/app#6"]
    assert found.stuck_reports == 2
    assert found.merges == [Merge("acme/app#1", at(t, 90), at(t, 10)), Merge("acme/app#2", at(t, 200), at(t, 100)),
                            Merge("other/x#3", at(t, 300), at(t, 220)), Merge("acme/app#4", at(t, 310), None)]
    assert found.decisions == [GateDecision("acme/app#1", True, at(t, 70), at(t, 20)),
                               GateDecision("acme/app#2", False, at(t, 160), at(t, 130)),
                               GateDecision("acme/app#2", True, at(t, 190), at(t, 170))]


async def test_the_cost_of_a_period_by_agent_and_by_repo(reads: tuple[ReadModels, datetime]) -> None:
    models, t = reads
    cost = await models.cost_between(at(t, START_MINUTES), at(t, START_MINUTES + DAY))
    assert [_rounded(c) for c in cost.by_agent] == [CostStat("review-e", 7, 0, 3.0, 1),
                                                     CostStat("dev-e-1", 1010, 220, 2.0, 2),  # its pod's too
                                                     CostStat("dev-e-2", 0, 0, 0.5, 1)]
    assert [_rounded(c) for c in cost.by_repo] == [CostStat("other/x", 7, 0, 3.0, 1),
                                                    CostStat("acme/app", 1010, 220, 2.0, 2),
                                                    CostStat("", 0, 0, 0.5, 1)]


async def test_an_empty_period(reads: tuple[ReadModels, datetime]) -> None:
    models, t = reads
    assert await models.activity(at(t, -100), at(t, -1)) == Activity()
    cost = await models.cost_between(at(t, -100), at(t, -1))
    assert cost.by_agent == [] and cost.by_repo == []


def _rounded(stat: CostStat) -> CostStat:
    return CostStat(stat.key, stat.input_tokens, stat.output_tokens, round(stat.cost_usd, 6), stat.turns)
