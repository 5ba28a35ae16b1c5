"""The read side's interface: the questions the rig asks of its documents, by name.

The domain never writes SQL: each question is a method here, answered once by the PostgreSQL
adapter (``eventstore.postgres.queries``, next to the index each one needs) and once in memory
(``eventstore.memory``); one contract suite (``tests/contract``) holds both to the same answers.
``DocumentQueries`` is what a serialised decision asks too (``UnitOfWork``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Generic, Protocol, TypeVar

from .activity import Activity, CostBreakdown
from .projections.agent_status import AgentStatus
from .projections.execution_log import ExecutionLog
from .projections.issue_status import IssueStatus
from .projections.repo_learnings import RepoLearnings

T = TypeVar("T")


@dataclass(frozen=True)
class Listing(Generic[T]):
    """One page of a list: its ``items`` from position ``offset``, of ``total`` in all."""

    items: list[T]
    total: int
    offset: int = 0

    @property
    def has_next(self) -> bool:
        return self.offset + len(self.items) < self.total


class DocumentQueries(Protocol):
    async def queue_head(self, limit: int, *, excluding_stuck: str | None = None) -> list[IssueStatus]:
        """The first ``limit`` issues of the queue, in hand-out order (``queue.queue_order``): queued,
        approved, unassigned, every issue they depend on (same repo) done. ``excluding_stuck``:
        leave out the issues that agent was unassigned from for being stuck."""
        ...

    async def open_gates(self) -> list[IssueStatus]:
        """Issues whose human gate is open, by stream id."""
        ...

    async def assignees(self) -> list[AgentStatus]:
        """Agents that hold an assignment, by id."""
        ...


class ReadModels(DocumentQueries, Protocol):
    """Lists come a page at a time (``offset``, at most ``limit`` items; None: all of it)."""

    async def agents(self, offset: int = 0, limit: int | None = None) -> Listing[AgentStatus]:
        """Agent documents, by id (code point order)."""
        ...

    async def agent(self, agent_id: str) -> AgentStatus | None: ...

    async def issues(self, state: str | None = None, repo: str | None = None, offset: int = 0,
                     limit: int | None = None) -> Listing[IssueStatus]:
        """Issues in ``state`` and ``repo`` (None: any), by repo (code point order), then number."""
        ...

    async def issue(self, stream_id: str) -> IssueStatus | None: ...

    async def issues_with_pr(self, repo: str, pr_number: int) -> list[IssueStatus]:
        """The issues of ``repo`` whose pull request is ``pr_number`` (usually one), by stream id."""
        ...

    async def queue(self, offset: int = 0, limit: int | None = None) -> Listing[IssueStatus]:
        """The queue in hand-out order."""
        ...

    async def stuck_agents(self) -> list[AgentStatus]:
        """Agents reported stuck that have sent no heartbeat since (``stuck_since``), by id."""
        ...

    async def executions(self, repo: str | None = None, issue_number: int | None = None,
                         agent_id: str | None = None, offset: int = 0,
                         limit: int | None = None) -> Listing[ExecutionLog]:
        """Runs by repo, issue number and agent (None: any), newest first (by start, then id).
        ``agent_id`` without a pod (``dev-e-1``) means the agent's runs from any of its pods; with
        one (``dev-e-1/abc12``), that pod's. Listed runs leave out their log lines (``logs`` is
        empty; ``log_lines`` still counts them): ``execution`` has them."""
        ...

    async def execution(self, execution_id: str) -> ExecutionLog | None: ...

    async def repo_learnings(self, repo: str) -> RepoLearnings | None: ...

    async def activity(self, start: datetime, end: datetime) -> Activity:
        """What happened from ``start`` (included) to ``end`` (excluded), by the events' timestamps:
        issues done and escalated, stuck reports, merges with their PR's opening, gate decisions
        with their gate's opening (``activity``)."""
        ...

    async def cost_between(self, start: datetime, end: datetime) -> CostBreakdown:
        """The LLM cost (TOKEN_USAGE) from ``start`` (included) to ``end`` (excluded), by agent and
        by repo."""
        ...
