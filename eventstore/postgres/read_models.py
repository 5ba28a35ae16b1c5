"""Read models over PostgreSQL: the read vocabulary (``queries``) on the pool."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from ..activity import Activity, ActivityRow, CostBreakdown, activity_from
from ..agents import agent_of, pod_of
from ..projections.agent_status import AgentStatus
from ..projections.execution_log import ExecutionLog
from ..projections.issue_status import IssueStatus
from ..projections.repo_learnings import RepoLearnings
from ..read_models import Listing
from ..stats import CostStat
from . import queries as q
from .errors import store_errors
from .liveness import Liveness


class PostgresReadModels:
    def __init__(self, pool: asyncpg.Pool, liveness: Liveness | None = None) -> None:
        self._pool = pool
        self._liveness = liveness

    async def _fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        with store_errors():
            if self._liveness is not None:
                return await self._liveness.guard(self._pool.fetch(sql, *args))
            return await self._pool.fetch(sql, *args)

    async def queue_head(self, limit: int, *, excluding_stuck: str | None = None) -> list[IssueStatus]:
        return await q.docs_from(self._fetch, IssueStatus, q.QUEUE_HEAD, limit, excluding_stuck)

    async def open_gates(self) -> list[IssueStatus]:
        return await q.docs_from(self._fetch, IssueStatus, q.OPEN_GATES)

    async def assignees(self) -> list[AgentStatus]:
        return await q.docs_from(self._fetch, AgentStatus, q.ASSIGNEES)

    async def agents(self, offset: int = 0, limit: int | None = None) -> Listing[AgentStatus]:
        return await q.page_of(self._fetch, AgentStatus, q.AGENTS, (offset, limit), offset, q.AGENTS_COUNT, ())

    async def agent(self, agent_id: str) -> AgentStatus | None:
        found = await q.docs_from(self._fetch, AgentStatus, q.AGENT, agent_id)
        return found[0] if found else None

    async def issues(self, state: str | None = None, repo: str | None = None, offset: int = 0,
                     limit: int | None = None) -> Listing[IssueStatus]:
        return await q.page_of(self._fetch, IssueStatus, q.ISSUES, (state, repo, offset, limit), offset,
                               q.ISSUES_COUNT, (state, repo))

    async def issue(self, stream_id: str) -> IssueStatus | None:
        found = await q.docs_from(self._fetch, IssueStatus, q.ISSUE, stream_id)
        return found[0] if found else None

    async def issues_with_pr(self, repo: str, pr_number: int) -> list[IssueStatus]:
        return await q.docs_from(self._fetch, IssueStatus, q.ISSUES_WITH_PR, repo, str(pr_number))

    async def queue(self, offset: int = 0, limit: int | None = None) -> Listing[IssueStatus]:
        return await q.page_of(self._fetch, IssueStatus, q.QUEUE, (offset, limit), offset, q.QUEUE_COUNT, ())

    async def stuck_agents(self) -> list[AgentStatus]:
        return await q.docs_from(self._fetch, AgentStatus, q.STUCK_AGENTS)

    async def executions(self, repo: str | None = None, issue_number: int | None = None,
                         agent_id: str | None = None, offset: int = 0,
                         limit: int | None = None) -> Listing[ExecutionLog]:
        pod = agent_id if agent_id is not None and pod_of(agent_id) is not None else None
        agent = agent_of(agent_id) if agent_id is not None else None
        page, count, args = q.executions(repo, issue_number, agent, pod)
        return await q.page_of(self._fetch, ExecutionLog, page, (*args, offset, limit), offset, count, tuple(args))

    async def execution(self, execution_id: str) -> ExecutionLog | None:
        found = await q.docs_from(self._fetch, ExecutionLog, q.EXECUTION, execution_id)
        return found[0] if found else None

    async def repo_learnings(self, repo: str) -> RepoLearnings | None:
        found = await q.docs_from(self._fetch, RepoLearnings, q.REPO_LEARNINGS, repo)
        return found[0] if found else None

    async def activity(self, start: datetime, end: datetime) -> Activity:
        rows = await self._fetch(q.ACTIVITY, start, end)
        return activity_from(ActivityRow(r["kind"], r["stream_id"], r["at"], r["began"]) for r in rows)

    async def cost_between(self, start: datetime, end: datetime) -> CostBreakdown:
        costs: dict[str, list[CostStat]] = {"agent": [], "repo": []}
        for r in await self._fetch(q.COST_BETWEEN, start, end):
            costs[r["scope"]].append(CostStat(r["key"], int(r["input_tokens"]), int(r["output_tokens"]),
                                              float(r["cost_usd"]), int(r["turns"])))
        return CostBreakdown(costs["agent"], costs["repo"])
