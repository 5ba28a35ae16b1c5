"""IssueStatus: one document per issue stream, a pure fold over the issue's events.

Agents report facts, so nothing is refused for arriving in an unusual order; the fold records
what it is told. States (the filter values agents use, plus ``closed``):

    queued -> assigned -> in_progress -> in_review -> deploying -> done
                 any open state -> failed (ESCALATED) -> queued (ISSUE_REQUEUED) | closed

``done`` and ``closed`` are terminal for progress events, and ``failed`` holds until a human acts
(ISSUE_REQUEUED or ISSUE_CLOSED) or the agent reports ISSUE_DONE; late progress events still
update their fields (PR, CI, ...) without moving the state back.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import Enum
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from .. import events as ev
from ..agents import agent_of, same_agent
from ..naming import STORED_NAMES
from ..streams import parse_issue_stream_id
from . import SortableTime

if TYPE_CHECKING:  # the store imports the read models, which import these
    from ..store import RecordedEvent


class IssueState(str, Enum):
    QUEUED = "queued"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    IN_REVIEW = "in_review"
    DEPLOYING = "deploying"
    DONE = "done"
    FAILED = "failed"
    CLOSED = "closed"


TERMINAL = {IssueState.DONE, IssueState.CLOSED}
HELD = TERMINAL | {IssueState.FAILED}  # progress events do not move an issue out of these


class Gate(BaseModel):
    model_config = ConfigDict(frozen=True, alias_generator=STORED_NAMES)
    open: bool = False
    reason: str | None = None
    pr_number: int | None = None
    pr_url: str | None = None
    since: datetime | None = None
    trigger_event_id: str | None = None
    reminders_sent: int = 0
    last_reminder_at: datetime | None = None
    decision: str | None = None  # approved | rejected | merged | done | escalated | closed
    decided_by: str | None = None
    decided_at: datetime | None = None
    # What the human wrote with the decision: a rejection's reason, an approval's note.
    decision_reason: str | None = None

    def waited(self, now: datetime) -> timedelta | None:
        """How long the gate has waited (``since`` is when it opened): until ``now`` while it is
        open, until its decision once closed; None for a gate whose opening is unknown."""
        if self.since is None:
            return None
        end = now if self.open or self.decided_at is None else self.decided_at
        return max(end - self.since, timedelta(0))


class Escalation(BaseModel):
    model_config = ConfigDict(frozen=True, alias_generator=STORED_NAMES)
    reason: str | None = None
    attempts: int | None = None
    at: datetime | None = None
    rule: str | None = None


class IssueStatus(BaseModel):
    model_config = ConfigDict(frozen=True, alias_generator=STORED_NAMES)

    id: str
    repo: str
    issue_number: int
    title: str = ""
    priority: str = "normal"
    depends_on: list[int] = Field(default_factory=list)
    milestone: str | None = None
    approved: bool = False
    state: IssueState = IssueState.QUEUED
    assigned_agent: str | None = None
    attempt: int = 0
    branch: str | None = None
    pr_number: int | None = None
    pr_url: str | None = None
    ci_status: str | None = None  # passed | failed
    failed_checks: list[str] = Field(default_factory=list)
    review_state: str | None = None  # passed | disputed
    gate: Gate | None = None
    smoke_retries: int = 0
    environment: str | None = None
    escalation: Escalation | None = None
    stuck_count: int = 0
    stuck_agents: list[str] = Field(default_factory=list)
    approved_at: SortableTime | None = None  # the queue orders by its stored text
    started_at: datetime | None = None
    done_at: datetime | None = None
    duration_minutes: float | None = None
    last_event_type: str | None = None
    event_count: int = 0
    updated_at: datetime | None = None

    @property
    def gate_open(self) -> bool:
        return self.gate is not None and self.gate.open


def new_issue(stream_id: str) -> IssueStatus:
    parsed = parse_issue_stream_id(stream_id)
    repo, number = parsed if parsed else (stream_id, 0)
    return IssueStatus(id=stream_id, repo=repo, issue_number=number)


def _close_gate(doc: IssueStatus, how: str, at: datetime, by: str | None = None,
                reason: str | None = None) -> Gate | None:
    if not doc.gate_open:
        return doc.gate
    assert doc.gate is not None
    return doc.gate.model_copy(update={"open": False, "decision": how, "decided_at": at, "decided_by": by,
                                       "decision_reason": reason})


def _progress(doc: IssueStatus, state: IssueState) -> IssueState:
    return doc.state if doc.state in HELD else state


def evolve(doc: IssueStatus | None, rec: RecordedEvent) -> IssueStatus:
    """The document after ``rec``. Pure: same inputs, same output."""
    doc = doc or new_issue(rec.stream_id)
    e, at = rec.event, rec.timestamp
    u: dict[str, object] = {
        "last_event_type": rec.wire_name,
        "event_count": doc.event_count + 1,
        "updated_at": at,
    }
    match e:
        case ev.IssueApproved():
            u.update(title=e.title or doc.title, priority=e.priority.value, depends_on=list(e.depends_on),
                     milestone=e.milestone or doc.milestone, approved=True)
            if not doc.approved:
                u.update(approved_at=at)
        case ev.IssueAssigned():
            u.update(state=_progress(doc, IssueState.ASSIGNED), assigned_agent=e.agent_id,
                     attempt=e.attempt if e.attempt is not None else doc.attempt + 1)
        case ev.IssueUnassigned():
            if doc.assigned_agent is None or same_agent(doc.assigned_agent, e.agent_id):
                u.update(assigned_agent=None, state=_progress(doc, IssueState.QUEUED))
        case ev.WorkStarted():
            u.update(state=_progress(doc, IssueState.IN_PROGRESS), branch=e.branch or doc.branch,
                     assigned_agent=doc.assigned_agent or e.agent_id, started_at=doc.started_at or at)
        case ev.BranchCreated():
            u.update(state=_progress(doc, IssueState.IN_PROGRESS), branch=e.branch,
                     started_at=doc.started_at or at)
        case ev.PrCreated():
            u.update(state=_progress(doc, IssueState.IN_REVIEW), pr_number=e.pr_number,
                     pr_url=e.pr_url or doc.pr_url, branch=e.branch or doc.branch)
        case ev.CiPassed():
            u.update(state=_progress(doc, IssueState.IN_REVIEW), ci_status="passed", failed_checks=[])
        case ev.CiFailed():
            u.update(state=_progress(doc, IssueState.IN_PROGRESS), ci_status="failed",
                     failed_checks=list(e.failed_checks))
        case ev.ReviewPassed():
            u.update(state=_progress(doc, IssueState.IN_REVIEW), review_state="passed")
        case ev.ReviewDisputed():
            u.update(state=_progress(doc, IssueState.IN_REVIEW), review_state="disputed")
        case ev.HumanGateTriggered():
            u.update(gate=Gate(open=True, reason=e.reason, pr_number=e.pr_number or doc.pr_number,
                               pr_url=e.pr_url or doc.pr_url, since=at, trigger_event_id=str(rec.id)))
        case ev.HumanGateReminder():
            if doc.gate is not None:
                u.update(gate=doc.gate.model_copy(
                    update={"reminders_sent": doc.gate.reminders_sent + 1, "last_reminder_at": at}))
        case ev.HumanGateApproved():
            u.update(gate=_close_gate(doc, "approved", at, e.decided_by, e.reason))
        case ev.HumanGateRejected():
            u.update(gate=_close_gate(doc, "rejected", at, e.decided_by, e.reason),
                     state=_progress(doc, IssueState.IN_PROGRESS))
        case ev.Merged():
            u.update(state=_progress(doc, IssueState.DEPLOYING), gate=_close_gate(doc, "merged", at))
        case ev.DeployedStaging() | ev.DeployedProduction():
            u.update(state=_progress(doc, IssueState.DEPLOYING), environment=e.reason or doc.environment)
        case ev.SmokePassed() | ev.Verified():
            u.update(state=_progress(doc, IssueState.DEPLOYING))
        case ev.SmokeFailed():
            u.update(state=_progress(doc, IssueState.DEPLOYING), smoke_retries=doc.smoke_retries + 1)
        case ev.IssueDone():
            if doc.state is not IssueState.CLOSED:
                start = doc.started_at or doc.approved_at
                duration = e.duration_minutes
                if duration is None and start is not None:
                    duration = round((at - start).total_seconds() / 60, 2)
                u.update(state=IssueState.DONE, done_at=at, duration_minutes=duration,
                         gate=_close_gate(doc, "done", at))
        case ev.Escalated():
            if doc.state not in TERMINAL:
                u.update(state=IssueState.FAILED, gate=_close_gate(doc, "escalated", at),
                         escalation=Escalation(reason=e.reason, attempts=e.attempts, at=at, rule=e.rule))
        case ev.AgentStuck():
            # Kept by agent, not by pod: a pod that got stuck excludes its agent from the issue.
            agent = agent_of(e.agent_id)
            stuck = doc.stuck_agents if agent in doc.stuck_agents else [*doc.stuck_agents, agent]
            u.update(stuck_count=doc.stuck_count + 1, stuck_agents=stuck)
        case ev.IssueRequeued():
            # A human gives the issue another go: the strikes start again, and the agents that
            # got stuck on it stay excluded.
            u.update(state=IssueState.QUEUED, assigned_agent=None, escalation=None, stuck_count=0,
                     smoke_retries=0)
        case ev.IssueClosed():
            u.update(state=IssueState.CLOSED, gate=_close_gate(doc, "closed", at, e.decided_by))
        case _:
            pass  # observability events only count
    return doc.model_copy(update=u)
