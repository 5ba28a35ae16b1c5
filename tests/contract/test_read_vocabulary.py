"""One contract for the read vocabulary (``eventstore.read_models``): PostgreSQL and memory give
the same answers to the same documents."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Any

import asyncpg
import pytest

from eventstore.memory import InMemoryReadModels
from eventstore.postgres.read_models import PostgresReadModels
from eventstore.postgres.unit_of_work import upsert_documents
from eventstore.projections.agent_status import AgentStatus
from eventstore.projections.issue_status import Gate, IssueState, IssueStatus
from eventstore.read_models import Listing, ReadModels

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)


def issue(repo: str, n: int, *, state: IssueState = IssueState.QUEUED, priority: str = "normal",
          minutes: float = 0, **fields: Any) -> IssueStatus:
    return IssueStatus(id=f"{repo}#{n}", repo=repo, issue_number=n, state=state, priority=priority,
                       approved=fields.pop("approved", True), approved_at=T0 + timedelta(minutes=minutes), **fields)


DOCS: list[IssueStatus | AgentStatus] = [
    issue("acme/app", 1, priority="low"),
    issue("acme/app", 2, priority="critical", minutes=5),
    issue("acme/app", 3, priority="critical", minutes=1),
    issue("acme/app", 4, minutes=2, depends_on=[9]),          # 9 is done: offerable
    issue("acme/app", 5, minutes=2, depends_on=[1]),          # 1 is queued: not yet
    issue("acme/app", 6, minutes=2, depends_on=[7]),          # 7 does not exist: not yet
    issue("acme/app", 8, minutes=3, assigned_agent="dev-e-9", state=IssueState.ASSIGNED),
    issue("acme/app", 9, state=IssueState.DONE),
    issue("acme/app", 10, approved=False),
    issue("acme/app", 11, minutes=4, stuck_agents=["dev-e-1"]),
    issue("Acme/app", 12, minutes=4),                          # code-point order: "A" before "a"
    issue("acme/app", 13, minutes=4, assigned_agent="dev-e-2"),  # queued but held: not offered
    issue("other/x", 1, minutes=4, depends_on=[9], pr_number=40),  # other/x#9 is not done
    issue("acme/app", 14, state=IssueState.IN_REVIEW, gate=Gate(open=True, reason="auth", since=T0), pr_number=40),
    issue("acme/app", 15, state=IssueState.IN_REVIEW, gate=Gate(open=False, decision="approved"), pr_number=40),
    AgentStatus(id="review-e"),
    AgentStatus(id="dev-e-1/abc12", status="working"),
    AgentStatus(id="dev-e-1", assignment="acme/app#8", assigned_at=T0),
    AgentStatus(id="Dev-e-0", assignment="acme/app#13", assigned_at=T0),
    AgentStatus(id="dev-e-3", stuck_count=2, stuck_since=T0, stuck_on="acme/app#11", stuck_reason="silent"),
    AgentStatus(id="Dev-e-3", stuck_count=1),  # stuck once, heard from since
]


@pytest.fixture(params=["postgres", "memory"])
async def reads(request: pytest.FixtureRequest, db: asyncpg.Pool) -> AsyncIterator[ReadModels]:
    if request.param == "memory":
        yield InMemoryReadModels([d for d in DOCS if isinstance(d, IssueStatus)],
                                 [d for d in DOCS if isinstance(d, AgentStatus)])
        return
    async with db.acquire() as conn:
        for model in (IssueStatus, AgentStatus):
            await upsert_documents(conn, model, [(d.id, d) for d in DOCS if isinstance(d, model)])
    yield PostgresReadModels(db)


def ids(docs: list[Any] | Listing[Any]) -> list[str]:
    return [d.id for d in (docs.items if isinstance(docs, Listing) else docs)]


async def test_the_queue_in_hand_out_order(reads: ReadModels) -> None:
    expected = ["acme/app#3", "acme/app#2", "acme/app#4", "Acme/app#12", "acme/app#11", "acme/app#1"]
    assert ids(await reads.queue()) == expected
    assert ids(await reads.queue_head(2)) == expected[:2]
    assert ids(await reads.queue_head(100, excluding_stuck="dev-e-1")) == [i for i in expected if i != "acme/app#11"]
    assert ids(await reads.queue_head(1, excluding_stuck="dev-e-2")) == ["acme/app#3"]


async def test_open_gates_and_assignees(reads: ReadModels) -> None:
    assert ids(await reads.open_gates()) == ["acme/app#14"]
    assert ids(await reads.assignees()) == ["Dev-e-0", "dev-e-1"]


async def test_stuck_agents(reads: ReadModels) -> None:
    [stuck] = await reads.stuck_agents()
    assert (stuck.id, stuck.stuck_on, stuck.stuck_reason, stuck.stuck_since) == ("dev-e-3", "acme/app#11", "silent", T0)


async def test_the_issues_holding_a_pr(reads: ReadModels) -> None:
    assert ids(await reads.issues_with_pr("acme/app", 40)) == ["acme/app#14", "acme/app#15"]
    assert ids(await reads.issues_with_pr("other/x", 40)) == ["other/x#1"]
    assert await reads.issues_with_pr("acme/app", 41) == [] and await reads.issues_with_pr("acme/ap", 40) == []


async def test_lists_and_lookups(reads: ReadModels) -> None:
    assert ids(await reads.agents()) == ["Dev-e-0", "Dev-e-3", "dev-e-1", "dev-e-1/abc12", "dev-e-3", "review-e"]
    assert ids(await reads.issues("done")) == ["acme/app#9"]
    assert ids(await reads.issues(None, "other/x")) == ["other/x#1"]
    everything = ids(await reads.issues())
    assert everything[0] == "Acme/app#12" and everything[1:4] == ["acme/app#1", "acme/app#2", "acme/app#3"]
    assert everything[-1] == "other/x#1" and len(everything) == 15
    assert (await reads.issues("queued", "acme/app")).items[0].id == "acme/app#1"
    found = await reads.issue("acme/app#14")
    assert found is not None and found.gate_open
    assert await reads.issue("acme/app#99") is None
    agent = await reads.agent("dev-e-1/abc12")
    assert agent is not None and agent.status == "working"
    assert await reads.agent("nobody") is None


async def test_pages(reads: ReadModels) -> None:
    everything = ids(await reads.issues())
    first, second = await reads.issues(offset=0, limit=6), await reads.issues(offset=6, limit=6)
    assert (first.total, second.total, first.offset, second.offset) == (15, 15, 0, 6)
    assert ids(first) + ids(second) == everything[:12] and first.has_next and second.has_next
    last = await reads.issues(offset=12, limit=6)
    assert ids(last) == everything[12:] and not last.has_next
    past = await reads.issues(offset=40, limit=6)
    assert (ids(past), past.total, past.has_next) == ([], 15, False)
    assert (await reads.issues("closed", limit=5)).total == 0
    queue = await reads.queue(offset=1, limit=2)
    assert ids(queue) == ["acme/app#2", "acme/app#4"] and queue.total == 6 and queue.has_next
    assert (await reads.queue(offset=10, limit=2)).total == 6
    agents = await reads.agents(offset=5, limit=2)
    assert ids(agents) == ["review-e"] and agents.total == 6 and not agents.has_next
