"""The rig's projector: folds each event into IssueStatus, AgentStatus and MilestoneStatus (or an
execution's ExecutionLog, a repo's RepoLearnings), then asks the recovery rules for follow-ups.
Orchestration only; the folds and rules are pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from pydantic import BaseModel

from .. import events as ev
from ..agents import agent_of
from ..policies import react
from ..store import PendingEvent, RecordedEvent
from ..streams import StreamKind, StreamRef, milestone_stream_id
from . import DocumentSet, agent_status, execution_log, issue_status, milestone_status, repo_learnings
from .agent_status import AgentStatus
from .execution_log import ExecutionLog
from .issue_status import IssueStatus
from .milestone_status import MilestoneStatus
from .repo_learnings import RepoLearnings

DOCUMENT_TYPES = (IssueStatus, AgentStatus, MilestoneStatus, ExecutionLog, RepoLearnings)


# Observability events (TOOL_USED, MEMORY_*, TOKEN_USAGE) are analytics: they change no
# coordination state, so no document is read or written for them (most of the traffic). Asked
# for nearly every event, so by exact class (event classes are final), one set lookup.
_ANALYTICS_CLASSES = frozenset(cls for cls in ev.EVENT_TYPES.values() if cls.wire_name in ev.OBSERVABILITY)


def _analytics_only(event: ev.Event) -> bool:
    return type(event) in _ANALYTICS_CLASSES


# The streams whose events may touch agents' documents (an execution names its agent, but runs
# change no AgentStatus).
_AGENT_DOCUMENTS = frozenset({StreamKind.ISSUE, StreamKind.AGENT})


class RigProjector:
    # No projection reads analytics events; the function itself, so asking costs one call.
    is_inert = staticmethod(_analytics_only)

    def inert_aliases(self) -> frozenset[str]:
        return frozenset(cls.alias for cls in _ANALYTICS_CLASSES)

    def uncached_documents(self) -> frozenset[type[BaseModel]]:
        # Only decisions change an execution's log (large: its steps and lines) and a repo's
        # learnings, and decisions read documents afresh: caching them would only hold memory.
        return frozenset({ExecutionLog, RepoLearnings})

    def documents_for(self, pendings: Sequence[PendingEvent]) -> Mapping[type[BaseModel], Iterable[str]]:
        """What a batch will touch: the issue documents of coordination events and the agents they
        name, and the runs whose executions start. Anything else (rare) is loaded on demand."""
        coordination = [p for p in pendings if not _analytics_only(p.event)]
        named = {a for p in coordination if p.stream.kind in _AGENT_DOCUMENTS
                 and isinstance(a := getattr(p.event, "agent_id", None), str)}
        agents = named | {agent_of(a) for a in named}  # a pod's events touch its agent's document
        return {
            IssueStatus: {p.stream.id for p in coordination if p.stream.kind is StreamKind.ISSUE},
            AgentStatus: agents,
            ExecutionLog: {p.event.execution_id for p in coordination if isinstance(p.event, ev.ExecutionEvent)},
        }

    async def apply(self, rec: RecordedEvent, stream: StreamRef, docs: DocumentSet) -> list[PendingEvent]:
        if rec.event is None or _analytics_only(rec.event) or stream.kind is StreamKind.DIGEST:
            return []  # a digest reports on the rig: no document or rule follows from it
        if stream.kind is StreamKind.EXECUTION or stream.kind is StreamKind.LEARNINGS:
            await self._record(rec, docs)  # their own documents only; no rule reacts to them
            return []
        before: IssueStatus | None = None
        after: IssueStatus | None = None
        if stream.kind is StreamKind.ISSUE:
            before = await docs.get(IssueStatus, stream.id)
            after = issue_status.evolve(before, rec)
            docs.put(stream.id, after)

        for agent_id in agent_status.affected_agents(rec, before):
            current = await docs.get(AgentStatus, agent_id)
            updated = agent_status.evolve(current, agent_id, rec)
            if updated is not None:
                docs.put(agent_id, updated)

        milestone = await self._milestone(rec, after, docs)
        return react(rec, after, milestone)

    async def _record(self, rec: RecordedEvent, docs: DocumentSet) -> None:
        e = rec.event
        if isinstance(e, ev.ExecutionEvent):
            run = execution_log.evolve(await docs.get(ExecutionLog, e.execution_id), rec)
            if run is not None:
                docs.put(e.execution_id, run)
        elif isinstance(e, ev.RepoLearningRecorded):
            learnings = repo_learnings.evolve(await docs.get(RepoLearnings, e.repo), rec)
            if learnings is not None:
                docs.put(e.repo, learnings)

    async def _milestone(self, rec: RecordedEvent, issue: IssueStatus | None,
                         docs: DocumentSet) -> MilestoneStatus | None:
        e = rec.event
        if isinstance(e, ev.MilestoneComplete):
            key, repo, name, number = rec.stream_id, e.repo, e.milestone, 0
        elif isinstance(e, (ev.IssueApproved, ev.IssueDone)) and issue is not None and issue.milestone:
            key = milestone_stream_id(issue.repo, issue.milestone)
            repo, name, number = issue.repo, issue.milestone, issue.issue_number
        else:
            return None
        current = await docs.get(MilestoneStatus, key)
        updated = milestone_status.evolve(current, key, repo, name, number, rec)
        docs.put(key, updated)
        return updated
