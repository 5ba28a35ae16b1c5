"""AgentStatus: one document per agent (keyed by agent id, never by an issue stream id).

Built from the agent's HEARTBEATs (the capability snapshot) and from the issue events that name
the agent or its current issue (assignment, unassignment, completion, escalation, stuck).
``isOnline`` depends on the time of reading, so it is derived when read (``is_online``), never stored.
An agent reported stuck (AGENT_STUCK) stays ``stuck_since`` then until it sends a HEARTBEAT again
(from any of its pods): what the board in Discord lists as needing a human.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from .. import events as ev
from ..agents import agent_of, same_agent
from ..naming import STORED_NAMES
from ..streams import parse_issue_stream_id
from .issue_status import IssueStatus

if TYPE_CHECKING:  # the store imports the read models, which import these
    from ..store import RecordedEvent

# The document keeps the capability snapshot as the last HEARTBEAT reported it, in the event's own
# frozen models (same fields, stored the same way): sharing them costs nothing, where building a
# copy of each provider and integration was a measurable share of a heartbeat's cost
# (BENCHMARKS.md, "Instruction counts").
ProviderHealth = ev.Provider
IntegrationHealth = ev.Integration


class AgentStatus(BaseModel):
    model_config = ConfigDict(frozen=True, alias_generator=STORED_NAMES)

    id: str
    status: str = "unknown"
    current_issue: int | None = None
    current_repo: str | None = None
    active_provider: str | None = None
    available_providers: list[str] = Field(default_factory=list)
    providers: list[ProviderHealth] = Field(default_factory=list)
    integrations: list[IntegrationHealth] = Field(default_factory=list)
    last_heartbeat: datetime | None = None
    assignment: str | None = None  # the issue stream the rig assigned to this agent
    assigned_at: datetime | None = None
    stuck_count: int = 0
    stuck_since: datetime | None = None  # reported stuck, and silent since
    stuck_on: str | None = None  # the issue stream the report was about, if any
    stuck_reason: str | None = None
    updated_at: datetime | None = None


HEALTHY = {"ready", "authenticated", "connected", "configured"}
_NOT_STUCK: dict[str, object] = {"stuck_since": None, "stuck_on": None, "stuck_reason": None}


def is_online(doc: AgentStatus, now: datetime, threshold: timedelta) -> bool:
    return doc.last_heartbeat is not None and now - doc.last_heartbeat <= threshold


def degraded(doc: AgentStatus) -> list[str]:
    """Providers and integrations whose status is not a healthy one."""
    parts: list[ProviderHealth | IntegrationHealth] = [*doc.providers, *doc.integrations]
    return [f"{p.name}: {p.status}" for p in parts if p.status not in HEALTHY]


def affected_agents(rec: RecordedEvent, issue_before: IssueStatus | None) -> list[str]:
    """Which agents' documents ``rec`` changes.

    Assignments and stuck reports live on the agent's document (``dev-e-1``), whichever of its
    pods the event names; a pod's HEARTBEAT updates the pod's own document and keeps the agent's
    document alive (see ``evolve``)."""
    e = rec.event
    match e:
        case ev.Heartbeat():
            agent = agent_of(e.agent_id)
            return [e.agent_id] if agent == e.agent_id else [e.agent_id, agent]
        case ev.AgentStuck() | ev.IssueUnassigned():
            return [agent_of(e.agent_id)]
        case ev.IssueAssigned():
            agent = agent_of(e.agent_id)
            previous = agent_of(issue_before.assigned_agent) if issue_before and issue_before.assigned_agent else None
            return [agent] + ([previous] if previous and previous != agent else [])
        case ev.IssueDone() | ev.Escalated() | ev.IssueClosed() | ev.IssueRequeued():
            holder = issue_before.assigned_agent if issue_before else None
            return [agent_of(holder)] if holder else []
    return []


def evolve(doc: AgentStatus | None, agent_id: str, rec: RecordedEvent) -> AgentStatus | None:
    """The document of ``agent_id`` after ``rec``; None when there is still no document (a pod's
    heartbeat does not create its agent's document, which the first assignment creates)."""
    e, at = rec.event, rec.timestamp
    if isinstance(e, ev.Heartbeat) and e.agent_id != agent_id:
        # A pod's heartbeat, seen from its agent's document: the agent is alive, so the
        # no-heartbeat rule (which reads this document's assignment) counts it.
        if doc is None:
            return None
        back = _NOT_STUCK if doc.stuck_since is not None else {}
        return doc.model_copy(update={"last_heartbeat": at, "updated_at": at, **back})
    doc = doc or AgentStatus(id=agent_id)
    u: dict[str, object] = {"updated_at": at}
    match e:
        case ev.Heartbeat():
            u.update(
                status=e.status, current_issue=e.current_issue, current_repo=e.current_repo,
                active_provider=e.active_provider, available_providers=list(e.available_providers),
                providers=list(e.providers), integrations=list(e.integrations),
                last_heartbeat=at,
            )
            if doc.stuck_since is not None:  # heard from again: no longer stuck
                u.update(_NOT_STUCK)
        case ev.IssueAssigned() if same_agent(e.agent_id, agent_id):
            u.update(assignment=rec.stream_id, assigned_at=at)
        case ev.AgentStuck():
            on = rec.stream_id if parse_issue_stream_id(rec.stream_id) else None
            u.update(stuck_count=doc.stuck_count + 1, stuck_since=doc.stuck_since or at, stuck_on=on,
                     stuck_reason=e.reason)
        case _:
            # unassigned, reassigned to someone else, done, escalated, closed, requeued
            if doc.assignment == rec.stream_id:
                u.update(assignment=None, assigned_at=None)
    return doc.model_copy(update=u)
