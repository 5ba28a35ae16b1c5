"""The same contract for runs, learnings (``read_models``) and agent logs (``agent_logs``):
PostgreSQL and memory give the same answers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone

import asyncpg
import pytest

from eventstore.agent_logs import AgentLogEntry, AgentLogs
from eventstore.events import ExecutionStep, LogLine
from eventstore.memory import InMemoryAgentLogs, InMemoryReadModels
from eventstore.postgres.agent_logs import PostgresAgentLogs
from eventstore.postgres.read_models import PostgresReadModels
from eventstore.postgres.unit_of_work import upsert_documents
from eventstore.projections.execution_log import ExecutionLog
from eventstore.projections.repo_learnings import Learning, RepoLearnings
from eventstore.read_models import ReadModels

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)


def run(n: int, agent_id: str, repo: str = "acme/app", issue: int = 7, *, seconds: float = 0,
        **fields: object) -> ExecutionLog:
    at = T0 + timedelta(seconds=seconds)
    return ExecutionLog(id=f"0190b7e0-0000-7000-8000-{n:012d}", agent_id=agent_id, agent=agent_id.partition("/")[0],
                        repo=repo, issue_number=issue, started_at=at, updated_at=at, **fields)


RUNS = [
    run(1, "dev-e-1", seconds=0, steps=[ExecutionStep(type="setup")], log_lines=1,
        logs=[LogLine(level="info", message="hello")]),
    run(2, "dev-e-1/abc12", seconds=10),
    run(3, "dev-e-2", seconds=10),  # the same start as 2: the id decides, newest (greatest) first
    run(4, "dev-e-10", issue=8, seconds=20),
    run(5, "dev-e-1/zz9x1", repo="Acme/app", seconds=30, status="failed", total_cost_usd=0.5),
    run(6, "review-e", repo="", issue=0, seconds=40),
]
LEARNINGS = [RepoLearnings(id="acme/app", repo="acme/app", updated_at=T0, learnings=[
    Learning(key="build-system", value="Node.js (package.json)", set_by="dev-e-1", updated_at=T0),
    Learning(key="test-command", value="npm test", set_by=None, updated_at=T0)])]


@pytest.fixture(params=["postgres", "memory"])
async def reads(request: pytest.FixtureRequest, db: asyncpg.Pool) -> AsyncIterator[ReadModels]:
    if request.param == "memory":
        yield InMemoryReadModels(executions=RUNS, learnings=LEARNINGS)
        return
    async with db.acquire() as conn:
        await upsert_documents(conn, ExecutionLog, [(r.id, r) for r in RUNS])
        await upsert_documents(conn, RepoLearnings, [(r.id, r) for r in LEARNINGS])
    yield PostgresReadModels(db)


def numbers(runs: list[ExecutionLog]) -> list[int]:
    return [int(r.id[-12:]) for r in runs]


async def test_runs_newest_first_by_issue_and_agent(reads: ReadModels) -> None:
    assert numbers((await reads.executions()).items) == [6, 5, 4, 3, 2, 1]
    assert numbers((await reads.executions("acme/app", 7)).items) == [3, 2, 1]
    assert numbers((await reads.executions("acme/app")).items) == [4, 3, 2, 1]
    assert numbers((await reads.executions(agent_id="dev-e-1")).items) == [5, 2, 1]  # its pods, not dev-e-10
    assert numbers((await reads.executions(agent_id="dev-e-1/abc12")).items) == [2]
    assert numbers((await reads.executions("acme/app", 8, "dev-e-10")).items) == [4]
    assert (await reads.executions("nobody/x")).total == 0


async def test_pages_of_runs_leave_their_lines_out(reads: ReadModels) -> None:
    first, second = await reads.executions(limit=4), await reads.executions(offset=4, limit=4)
    assert (numbers(first.items), first.total, first.has_next) == ([6, 5, 4, 3], 6, True)
    assert (numbers(second.items), second.total, second.has_next) == ([2, 1], 6, False)
    past = await reads.executions(offset=10, limit=4)
    assert (past.items, past.total) == ([], 6)
    listed = second.items[-1]
    assert listed.logs == [] and listed.log_lines == 1 and listed.steps == [ExecutionStep(type="setup")]


async def test_one_run_and_a_repos_learnings(reads: ReadModels) -> None:
    one = await reads.execution(RUNS[0].id)
    assert one == RUNS[0] and one is not None and one.logs[0].message == "hello"
    assert await reads.execution("0190b7e0-0000-7000-8000-999999999999") is None
    failed = await reads.execution(RUNS[4].id)
    assert failed is not None and (failed.status, failed.cost_usd) == ("failed", 0.5)
    found = await reads.repo_learnings("acme/app")
    assert found is not None and [(item.key, item.value) for item in found.learnings] == [
        ("build-system", "Node.js (package.json)"), ("test-command", "npm test")]
    assert await reads.repo_learnings("acme/other") is None


@pytest.fixture(params=["postgres", "memory"])
async def logs(request: pytest.FixtureRequest, db: asyncpg.Pool) -> AgentLogs:
    return InMemoryAgentLogs() if request.param == "memory" else PostgresAgentLogs(db)


def entry(message: str, **fields: object) -> AgentLogEntry:
    return AgentLogEntry.model_validate({"message": message, "level": "info", **fields})


async def test_agent_logs_newest_first_per_agent_and_pod(logs: AgentLogs) -> None:
    assert await logs.append("dev-e-1/abc12", [entry("a1", timestamp="2026-12-01T09:00:00Z", source="claude"),
                                               entry("a2", timestamp=1764579600)], T0) == 2
    await logs.append("dev-e-1", [entry("b1")], T0 + timedelta(hours=1))
    await logs.append("dev-e-10", [entry("c1")], T0 + timedelta(hours=2))
    assert await logs.append("dev-e-2", [], T0) == 0
    everything = await logs.recent()
    assert [e.message for e in everything] == ["c1", "b1", "a2", "a1"]
    assert [e.message for e in await logs.recent("dev-e-1")] == ["b1", "a2", "a1"]
    pod = await logs.recent("dev-e-1/abc12")
    assert [(e.message, e.timestamp, e.extra) for e in pod] == [("a2", 1764579600, {}),
                                                               ("a1", "2026-12-01T09:00:00Z", {"source": "claude"})]
    assert pod[0].agent_id == "dev-e-1/abc12" and pod[0].received_at == T0
    assert [e.message for e in await logs.recent(limit=2)] == ["c1", "b1"]
    assert [e.message for e in await logs.recent("dev-e-1", before=everything[1].id)] == ["a2", "a1"]


async def test_agent_logs_pruned_by_age(logs: AgentLogs) -> None:
    for hours in range(4):
        await logs.append("dev-e-1", [entry(f"h{hours}"), entry(f"h{hours}'")], T0 + timedelta(hours=hours))
    assert await logs.prune(T0 + timedelta(hours=2)) == 4
    assert [e.message for e in await logs.recent()] == ["h3'", "h3", "h2'", "h2"]
    assert await logs.prune(T0) == 0
