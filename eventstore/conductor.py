"""The conductor's use cases: plain functions over the ``EventStore`` interface.

Each runs as one serialised decision (``EventStore.decide``), so what it reads cannot change before
what it appends commits, across every process sharing the database.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from . import events as ev
from .agents import agent_of, same_agent
from .authorization import Decider
from .ids import derived_event_id
from .policies import stuck_for_silence
from .projections.agent_status import AgentStatus
from .projections.issue_status import IssueState, IssueStatus
from .read_models import ReadModels
from .store import (
    EventStore,
    PendingEvent,
    RecordedEvent,
    Rejected,
    UnitOfWork,
)

ACTIVE = {IssueState.ASSIGNED, IssueState.IN_PROGRESS, IssueState.IN_REVIEW, IssueState.DEPLOYING}


async def claim_next(store: EventStore, agent_id: str) -> tuple[IssueStatus | None, bool]:
    """The agent's unfinished assignment, or the head of the queue claimed for it.

    Returns (issue or None, newly claimed). An agent that was unassigned from an issue for being
    stuck is never handed that issue again. A pod (``dev-e-1/abc12``) claims for its agent.
    """
    agent_id = agent_of(agent_id)

    async def decide(uow: UnitOfWork) -> tuple[IssueStatus | None, bool]:
        agent = await uow.get(AgentStatus, agent_id)
        if agent is not None and agent.assignment:
            held = await uow.get(IssueStatus, agent.assignment)
            if still_held(held, agent_id):
                return held, False
        # The head of the queue from the database, the issues this agent got stuck on left out there:
        # the serialised part touches only what it hands out.
        found = await uow.queue_head(1, excluding_stuck=agent_id)
        issue = found[0] if found else None
        if issue is None:
            return None, False
        await uow.append(PendingEvent.of(ev.IssueAssigned(
            repo=issue.repo, issue_number=issue.issue_number, agent_id=agent_id,
            attempt=issue.attempt + 1, rule="claim")))
        return await uow.get(IssueStatus, issue.id), True

    result, _ = await store.decide(decide)
    return result


async def peek_next(read_models: ReadModels, agent_id: str) -> IssueStatus | None:
    """What ``claim_next`` would hand the agent now, without claiming anything (for HEAD)."""
    agent_id = agent_of(agent_id)
    agent = await read_models.agent(agent_id)
    if agent is not None and agent.assignment:
        held = await read_models.issue(agent.assignment)
        if still_held(held, agent_id):
            return held
    found = await read_models.queue_head(1, excluding_stuck=agent_id)
    return found[0] if found else None


async def dispatch(store: EventStore, agents: Sequence[str]) -> list[RecordedEvent]:
    """Hand the head of the queue to each of ``agents`` (in that order) that holds no unfinished
    assignment: ISSUE_ASSIGNED with rule ``dispatch``, as a claim would append. Returns what it
    appended.

    One serialised decision, like a claim, so a dispatch and a claim (or two dispatches, in two
    processes) never hand out one issue twice. An agent is never handed an issue it was unassigned
    from for being stuck.
    """

    async def decide(uow: UnitOfWork) -> None:
        taken: set[str] = set()
        for agent_id in agents:
            agent = await uow.get(AgentStatus, agent_id)
            if agent is not None and agent.assignment and still_held(await uow.get(IssueStatus, agent.assignment),
                                                                     agent_id):
                continue
            # The queue's SQL still sees the issues this decision handed out (nothing is written before
            # it commits): ask for as many more, and skip them.
            found = await uow.queue_head(len(taken) + 1, excluding_stuck=agent_id)
            issue = next((i for i in found if i.id not in taken), None)
            if issue is None:
                continue
            await uow.append(PendingEvent.of(ev.IssueAssigned(
                repo=issue.repo, issue_number=issue.issue_number, agent_id=agent_id,
                attempt=issue.attempt + 1, rule="dispatch")))
            taken.add(issue.id)

    _, recorded = await store.decide(decide)
    return recorded


async def dispatch_due(read_models: ReadModels, agents: Sequence[str]) -> bool:
    """Whether ``dispatch`` may have something to do: one of ``agents`` holds no assignment and the
    queue is not empty. Two reads and no lock, so it can be asked whenever events arrive; a yes is
    settled by ``dispatch`` itself."""
    if not agents:
        return False
    busy = {a.id for a in await read_models.assignees()}
    return any(a not in busy for a in agents) and bool(await read_models.queue_head(1))


def still_held(issue: IssueStatus | None, agent_id: str) -> bool:
    """Whether ``issue`` is an unfinished assignment of ``agent_id`` (or of a pod of it)."""
    return issue is not None and same_agent(issue.assigned_agent, agent_id) and issue.state in ACTIVE


def assignment_current(issue: IssueStatus | None, event: ev.IssueAssigned) -> bool:
    """Whether ``event`` is still ``issue``'s assignment: the issue is unfinished, its agent holds
    it, and (when the event says which attempt it started) no later assignment replaced it. An
    assignment delivered late (after a Valkey outage, say) is dropped once it is not."""
    if not still_held(issue, agent_of(event.agent_id)):
        return False
    assert issue is not None
    return event.attempt is None or event.attempt == issue.attempt


async def detect_silent_assignees(store: EventStore, now: datetime, timeout: timedelta) -> int:
    """The no-heartbeat rule over every current assignment; returns how many AGENT_STUCK it appended."""

    async def decide(uow: UnitOfWork) -> int:
        appended = 0
        for agent in await uow.assignees():
            issue = await uow.get(IssueStatus, agent.assignment or "")
            if issue is None:
                continue
            pending = stuck_for_silence(agent, issue, now, timeout)
            if pending is not None and not await uow.event_exists(pending.event_id):
                await uow.append(pending)
                appended += 1
        return appended

    count, _ = await store.decide(decide)
    return count


def next_reminder_due(issue: IssueStatus, interval: timedelta) -> datetime | None:
    """When the open gate of ``issue`` is next due a reminder; None if no gate is open."""
    gate = issue.gate
    if gate is None or not gate.open or gate.since is None:
        return None
    return (gate.last_reminder_at or gate.since) + interval


def reminder_escalates(reminder: ev.HumanGateReminder, escalate_after: int) -> bool:
    """The gate ladder: whether ``reminder`` also goes to the escalation role, that is, whether
    ``escalate_after`` reminders of its gate went unanswered before it. A reminder posted without
    its number (``reminder``) never escalates."""
    return reminder.reminder is not None and reminder.reminder > escalate_after


async def remind_open_gates(store: EventStore, now: datetime, interval: timedelta) -> list[RecordedEvent]:
    """Append HUMAN_GATE_REMINDER for every open gate that is due one at ``now``.

    One reminder per interval and gate: the id derives from the gate and the interval number, and
    the decision runs serialised, so two processes (or a restart) never repeat one. After an outage
    the missed intervals are folded into one reminder that says how long the gate has waited.
    """

    async def decide(uow: UnitOfWork) -> None:
        for issue in await uow.open_gates():
            due = next_reminder_due(issue, interval)
            gate = issue.gate
            if due is None or gate is None or gate.since is None or now < due:
                continue
            waited = now - gate.since
            number = int(waited / interval)
            pending = PendingEvent.of(
                ev.HumanGateReminder(
                    repo=issue.repo, issue_number=issue.issue_number, pr_number=gate.pr_number,
                    attempt=int(round(waited.total_seconds() / 60)), reminder=number,
                    caused_by=gate.trigger_event_id, rule="gate-reminder",
                ),
                event_id=derived_event_id(gate.trigger_event_id, "gate-reminder", number),
            )
            if not await uow.event_exists(pending.event_id):
                await uow.append(pending)

    _, recorded = await store.decide(decide)
    return recorded


class AlreadyDecided(Rejected):
    """The gate was closed before this decision: by a human's (``decided_by``) or by what closed
    it (``decision``: merged, done, escalated)."""

    def __init__(self, stream_id: str, decision: str | None, decided_by: str | None,
                 decided_at: datetime | None) -> None:
        closed = f"already decided by {decided_by} ({decision})" if decided_by else f"already closed ({decision})"
        super().__init__(f"the gate on {stream_id} is {closed}")
        self.decision, self.decided_by, self.decided_at = decision, decided_by, decided_at


async def decide_gate(store: EventStore, stream_id: str, *, approve: bool, decider: Decider,
                      reason: str | None = None) -> RecordedEvent:
    """A human's decision on an open gate, with what they wrote (``reason``: a rejection's
    reason, an approval's note). Raises Rejected if there is no gate, AlreadyDecided if it is
    closed, so two clicks at once give exactly one decision."""

    async def decide(uow: UnitOfWork) -> RecordedEvent:
        issue = await uow.get(IssueStatus, stream_id)
        if issue is None:
            raise Rejected(f"there is no issue {stream_id}")
        gate = issue.gate
        if gate is None:
            raise Rejected(f"{stream_id} has no human gate")
        if not gate.open:
            raise AlreadyDecided(stream_id, gate.decision, gate.decided_by, gate.decided_at)
        cls = ev.HumanGateApproved if approve else ev.HumanGateRejected
        return await uow.append(PendingEvent.of(cls(repo=issue.repo, issue_number=issue.issue_number,
                                                    pr_number=gate.pr_number, reason=reason,
                                                    **decider.stamp())))

    rec, _ = await store.decide(decide)
    return rec


async def resolve_escalation(store: EventStore, stream_id: str, *, requeue: bool, decider: Decider,
                             reason: str | None = None) -> RecordedEvent:
    """A human puts an escalated (failed) issue back in the queue, or closes it."""

    async def decide(uow: UnitOfWork) -> RecordedEvent:
        issue = await uow.get(IssueStatus, stream_id)
        if issue is None:
            raise Rejected(f"there is no issue {stream_id}")
        if issue.state is not IssueState.FAILED:
            raise Rejected(f"{stream_id} is not escalated (it is {issue.state.value})")
        cls = ev.IssueRequeued if requeue else ev.IssueClosed
        return await uow.append(PendingEvent.of(cls(repo=issue.repo, issue_number=issue.issue_number,
                                                    reason=reason, **decider.stamp())))

    rec, _ = await store.decide(decide)
    return rec
