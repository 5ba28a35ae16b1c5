"""The rig's projector: folds each event into IssueStatus, AgentStatus and MilestoneStatus, then
asks the recovery rules for follow-ups. Orchestration only; the folds and rules are pure."""

from __future__ import annotations

from collections.abc import Iterable

from .. import events as ev
from ..policies import react
from ..store import PendingEvent, RecordedEvent
from ..streams import StreamKind, StreamRef, milestone_stream_id
from . import DocumentSet, agent_status, issue_status, milestone_status
from .agent_status import AgentStatus
from .issue_status import IssueStatus
from .milestone_status import MilestoneStatus

DOCUMENT_TYPES = (IssueStatus, AgentStatus, MilestoneStatus)


class RigProjector:
    async def prepare(self, streams: Iterable[StreamRef], docs: DocumentSet) -> None:
        """Load in bulk the documents a batch is about to touch (one query per table)."""
        streams = list(streams)
        await docs.prefetch(IssueStatus, [s.id for s in streams if s.kind is StreamKind.ISSUE])
        await docs.prefetch(AgentStatus, [s.id for s in streams if s.kind is StreamKind.AGENT])

    async def apply(self, rec: RecordedEvent, stream: StreamRef, docs: DocumentSet) -> list[PendingEvent]:
        if rec.event is None:
            return []
        before: IssueStatus | None = None
        after: IssueStatus | None = None
        if stream.kind is StreamKind.ISSUE:
            before = await docs.get(IssueStatus, stream.id)
            after = issue_status.evolve(before, rec)
            docs.put(stream.id, after)

        for agent_id in agent_status.affected_agents(rec, before):
            current = await docs.get(AgentStatus, agent_id)
            docs.put(agent_id, agent_status.evolve(current, agent_id, rec))

        milestone = await self._milestone(rec, after, docs)
        return react(rec, after, milestone)

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
