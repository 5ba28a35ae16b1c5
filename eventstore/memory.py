"""The read vocabulary in memory: documents in dicts, the same answers as PostgreSQL's.

For fast tests of the use cases and rules, and the second implementation the contract suite
(``tests/contract``) holds to the same answers as ``eventstore.postgres``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from .projections.agent_status import AgentStatus
from .projections.issue_status import IssueState, IssueStatus
from .queue import build_queue
from .read_models import Listing

T = TypeVar("T")


class InMemoryReadModels:
    def __init__(self, issues: Iterable[IssueStatus] = (), agents: Iterable[AgentStatus] = ()) -> None:
        self._issues = {i.id: i for i in issues}
        self._agents = {a.id: a for a in agents}

    async def queue_head(self, limit: int, *, excluding_stuck: str | None = None) -> list[IssueStatus]:
        done = {(i.repo, i.issue_number) for i in self._issues.values() if i.state is IssueState.DONE}
        queue = build_queue(self._issues.values(), done)
        if excluding_stuck is not None:  # stuck_agents holds agents, not pods, as the SQL matches them
            queue = [i for i in queue if excluding_stuck not in i.stuck_agents]
        return queue[:limit]

    async def open_gates(self) -> list[IssueStatus]:
        return [i for _, i in sorted(self._issues.items()) if i.gate_open]

    async def assignees(self) -> list[AgentStatus]:
        return [a for _, a in sorted(self._agents.items()) if a.assignment is not None]

    async def agents(self, offset: int = 0, limit: int | None = None) -> Listing[AgentStatus]:
        return _page([a for _, a in sorted(self._agents.items())], offset, limit)

    async def agent(self, agent_id: str) -> AgentStatus | None:
        return self._agents.get(agent_id)

    async def issues(self, state: str | None = None, repo: str | None = None, offset: int = 0,
                     limit: int | None = None) -> Listing[IssueStatus]:
        found = [i for i in self._issues.values()
                 if (state is None or i.state.value == state) and (repo is None or i.repo == repo)]
        return _page(sorted(found, key=lambda i: (i.repo, i.issue_number)), offset, limit)

    async def issue(self, stream_id: str) -> IssueStatus | None:
        return self._issues.get(stream_id)

    async def issues_with_pr(self, repo: str, pr_number: int) -> list[IssueStatus]:
        return [i for _, i in sorted(self._issues.items()) if i.repo == repo and i.pr_number == pr_number]

    async def queue(self, offset: int = 0, limit: int | None = None) -> Listing[IssueStatus]:
        return _page(await self.queue_head(len(self._issues)), offset, limit)


def _page(items: list[T], offset: int, limit: int | None) -> Listing[T]:
    end = None if limit is None else offset + limit
    return Listing(items[offset:end], len(items), offset)
