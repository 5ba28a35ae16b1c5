"""The read vocabulary (and agent logs) in memory: the same answers as PostgreSQL's.

For fast tests of the use cases and rules, and the second implementation the contract suite
(``tests/contract``) holds to the same answers as ``eventstore.postgres``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import TypeVar

from . import activity as act
from . import events as ev
from .activity import Activity, ActivityRow, CostBreakdown
from .agent_logs import AgentLogEntry, StoredLogEntry
from .agents import agent_of, pod_of
from .projections.agent_status import AgentStatus
from .projections.execution_log import ExecutionLog
from .projections.issue_status import IssueState, IssueStatus
from .projections.repo_learnings import RepoLearnings
from .queue import build_queue
from .read_models import Listing
from .stats import CostStat
from .store import RecordedEvent

T = TypeVar("T")


class InMemoryReadModels:
    def __init__(self, issues: Iterable[IssueStatus] = (), agents: Iterable[AgentStatus] = (),
                 executions: Iterable[ExecutionLog] = (), learnings: Iterable[RepoLearnings] = (),
                 events: Iterable[RecordedEvent] = ()) -> None:
        """``events``: the log the activity questions read, in sequence order."""
        self._issues = {i.id: i for i in issues}
        self._agents = {a.id: a for a in agents}
        self._executions = {e.id: e for e in executions}
        self._learnings = {r.id: r for r in learnings}
        self._events = list(events)

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

    async def stuck_agents(self) -> list[AgentStatus]:
        return [a for _, a in sorted(self._agents.items()) if a.stuck_since is not None]

    async def executions(self, repo: str | None = None, issue_number: int | None = None,
                         agent_id: str | None = None, offset: int = 0,
                         limit: int | None = None) -> Listing[ExecutionLog]:
        by_pod = agent_id is not None and pod_of(agent_id) is not None
        found = [e for e in self._executions.values()
                 if (repo is None or e.repo == repo) and (issue_number is None or e.issue_number == issue_number)
                 and (agent_id is None or (e.agent_id == agent_id if by_pod else e.agent == agent_of(agent_id)))]
        newest = sorted(found, key=lambda e: (e.started_at, e.id), reverse=True)
        return _page([e.model_copy(update={"logs": []}) for e in newest], offset, limit)

    async def execution(self, execution_id: str) -> ExecutionLog | None:
        return self._executions.get(execution_id)

    async def repo_learnings(self, repo: str) -> RepoLearnings | None:
        return self._learnings.get(repo)

    async def activity(self, start: datetime, end: datetime) -> Activity:
        return act.activity_from(self._activity_rows(start, end))

    def _activity_rows(self, start: datetime, end: datetime) -> Iterator[ActivityRow]:
        for rec in self._events:
            if rec.alias not in act.ACTIVITY_TYPES or not start <= rec.timestamp < end:
                continue
            began = None
            earlier = [r for r in self._events if r.stream_id == rec.stream_id and r.version < rec.version]
            if isinstance(rec.event, ev.Merged):
                number = rec.event.pr_number
                opened = [r.timestamp for r in earlier if isinstance(r.event, ev.PrCreated)
                          and (number is None or r.event.pr_number == number)]
                began = (max if number is None else min)(opened, default=None)
            elif rec.alias in (act.APPROVED, act.REJECTED):
                triggers = [r for r in earlier if isinstance(r.event, ev.HumanGateTriggered)]
                began = max(triggers, key=lambda r: r.version).timestamp if triggers else None
            yield ActivityRow(rec.alias, rec.stream_id, rec.timestamp, began)

    async def cost_between(self, start: datetime, end: datetime) -> CostBreakdown:
        by_agent: dict[str, list[ev.TokenUsage]] = {}
        by_repo: dict[str, list[ev.TokenUsage]] = {}
        for rec in self._events:
            if isinstance(rec.event, ev.TokenUsage) and start <= rec.timestamp < end:
                by_agent.setdefault(agent_of(rec.event.agent_id), []).append(rec.event)
                by_repo.setdefault(rec.event.repo, []).append(rec.event)
        return CostBreakdown(_costs(by_agent), _costs(by_repo))


def _costs(groups: dict[str, list[ev.TokenUsage]]) -> list[CostStat]:
    stats = [CostStat(key, sum(u.input_tokens for u in used), sum(u.output_tokens for u in used),
                      sum(u.cost_usd for u in used), len(used)) for key, used in groups.items()]
    return sorted(stats, key=lambda s: (-s.cost_usd, s.key))


def _page(items: list[T], offset: int, limit: int | None) -> Listing[T]:
    end = None if limit is None else offset + limit
    return Listing(items[offset:end], len(items), offset)


class InMemoryAgentLogs:
    """``agent_logs.AgentLogs`` in a list: the same answers as ``eventstore.postgres.agent_logs``."""

    def __init__(self) -> None:
        self._entries: list[StoredLogEntry] = []
        self._next_id = 1

    async def append(self, agent_id: str, entries: Sequence[AgentLogEntry], received_at: datetime) -> int:
        for entry in entries:
            self._entries.append(StoredLogEntry(self._next_id, agent_id, received_at, entry.timestamp, entry.level,
                                                entry.message, entry.extra))
            self._next_id += 1
        return len(entries)

    async def recent(self, agent_id: str | None = None, limit: int = 100,
                     before: int | None = None) -> list[StoredLogEntry]:
        by_pod = agent_id is not None and pod_of(agent_id) is not None
        found = [e for e in reversed(self._entries)
                 if (before is None or e.id < before)
                 and (agent_id is None or (e.agent_id == agent_id if by_pod else agent_of(e.agent_id) == agent_id))]
        return found[:limit]

    async def prune(self, older_than: datetime) -> int:
        kept = [e for e in self._entries if e.received_at >= older_than]
        pruned, self._entries = len(self._entries) - len(kept), kept
        return pruned
