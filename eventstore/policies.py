"""Recovery paths: pure rules ``(what happened, the state around it) -> follow-up events``.

Each follow-up names its cause (``caused_by`` = the triggering event's id, ``rule``) and gets an
id derived from them, so a rule that fires twice for one cause stores its follow-up once.

| rule                 | when                                                        | appends            |
|----------------------|-------------------------------------------------------------|--------------------|
| smoke-external       | SMOKE_FAILED with reason ``external_dependency``            | ESCALATED          |
| smoke-retries        | SMOKE_FAILED (code) that brings the retries to maxRetries   | ESCALATED          |
| stuck-first-strike   | the first AGENT_STUCK on an issue                           | ISSUE_UNASSIGNED   |
| two-strikes          | the second AGENT_STUCK on an issue                          | ESCALATED          |
| milestone-complete   | ISSUE_DONE leaves every approved issue of its milestone done| MILESTONE_COMPLETE |
| no-heartbeat         | (time-based, see ``stuck_for_silence``) an assignee silent  | AGENT_STUCK        |
|                      | for longer than the heartbeat timeout                       |                    |
"""

from __future__ import annotations

from datetime import datetime, timedelta

from . import events as ev
from .agents import same_agent
from .ids import derived_event_id
from .projections.agent_status import AgentStatus
from .projections.issue_status import IssueState, IssueStatus
from .projections.milestone_status import MilestoneStatus
from .store import PendingEvent, RecordedEvent

EXTERNAL_DEPENDENCY = "external_dependency"


def _follow_up(event: ev.Event, cause: RecordedEvent | str, rule: str) -> PendingEvent:
    cause_id = cause if isinstance(cause, str) else str(cause.id)
    return PendingEvent.of(event, event_id=derived_event_id(cause_id, rule))


def react(rec: RecordedEvent, issue: IssueStatus | None,
          milestone: MilestoneStatus | None) -> list[PendingEvent]:
    """Follow-ups for ``rec``, given the documents as they are after it."""
    e = rec.event
    match e:
        case ev.SmokeFailed() if issue is not None and issue.state is not IssueState.FAILED:
            if (e.reason or "").strip().lower() == EXTERNAL_DEPENDENCY:
                return [_follow_up(ev.Escalated(
                    repo=e.repo, issue_number=e.issue_number, attempts=issue.smoke_retries,
                    reason="smoke test failed on an external dependency: a human decides",
                    caused_by=str(rec.id), rule="smoke-external"), rec, "smoke-external")]
            if issue.smoke_retries >= e.max_retries:
                return [_follow_up(ev.Escalated(
                    repo=e.repo, issue_number=e.issue_number, attempts=issue.smoke_retries,
                    reason=f"smoke test failed {issue.smoke_retries} times (max {e.max_retries})",
                    caused_by=str(rec.id), rule="smoke-retries"), rec, "smoke-retries")]
        case ev.AgentStuck() if issue is not None and issue.state not in {
            IssueState.FAILED, IssueState.DONE, IssueState.CLOSED
        }:
            if issue.stuck_count == 1:
                return [_follow_up(ev.IssueUnassigned(
                    repo=issue.repo, issue_number=issue.issue_number, agent_id=e.agent_id,
                    reason=f"stuck: {e.reason or 'no reason given'}; back to the queue for another agent",
                    caused_by=str(rec.id), rule="stuck-first-strike"), rec, "stuck-first-strike")]
            if issue.stuck_count >= 2:
                return [_follow_up(ev.Escalated(
                    repo=issue.repo, issue_number=issue.issue_number, attempts=issue.stuck_count,
                    reason="agents got stuck twice on this issue: two strikes, a human decides",
                    caused_by=str(rec.id), rule="two-strikes"), rec, "two-strikes")]
        case ev.IssueDone() if milestone is not None and milestone.all_done and not milestone.completed:
            return [_follow_up(ev.MilestoneComplete(
                repo=milestone.repo, milestone=milestone.milestone, issue_count=len(milestone.issues),
                caused_by=str(rec.id), rule="milestone-complete"), rec, "milestone-complete")]
    return []


def stuck_for_silence(agent: AgentStatus, issue: IssueStatus, now: datetime,
                      timeout: timedelta) -> PendingEvent | None:
    """The no-heartbeat rule: an assignee that has not sent a HEARTBEAT for ``timeout``.

    The clock starts at the later of its last heartbeat and its assignment, so a fresh assignment
    to a quiet agent gets the full timeout. ``agent`` is the agent's own document, whose last
    heartbeat is the latest of any of its pods (``agent_status.evolve``). The id derives from the assignment, so however many
    processes run this check, one AGENT_STUCK is stored per silent assignment.
    """
    if agent.assignment != issue.id or not same_agent(issue.assigned_agent, agent.id):
        return None
    if issue.state in {IssueState.DONE, IssueState.CLOSED, IssueState.FAILED}:
        return None
    marks = [t for t in (agent.last_heartbeat, agent.assigned_at) if t is not None]
    if not marks or now - max(marks) < timeout:
        return None
    since = max(marks)
    minutes = round((now - since).total_seconds() / 60, 1)
    cause = f"no-heartbeat:{issue.id}:{agent.id}:{issue.attempt}:{agent.assigned_at}"
    return _follow_up(ev.AgentStuck(
        agent_id=agent.id, repo=issue.repo, issue_number=issue.issue_number, attempt=issue.stuck_count + 1,
        reason=f"no heartbeat for {minutes} minutes", caused_by=cause, rule="no-heartbeat",
    ), cause, "no-heartbeat")
