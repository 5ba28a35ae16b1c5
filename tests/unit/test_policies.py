"""Recovery rules, pure."""

from __future__ import annotations

from datetime import timedelta
from functools import reduce

from eventstore import events as ev
from eventstore.conductor import reminder_escalates
from eventstore.policies import react, stuck_for_silence
from eventstore.projections import agent_status, issue_status
from eventstore.projections.milestone_status import MilestoneStatus

from .helpers import ISSUE, T0, rec


def issue_after(*events):
    return reduce(lambda d, r: issue_status.evolve(d, r), events, None)


def test_smoke_external_dependency_escalates_at_once() -> None:
    failed = rec("SMOKE_FAILED", 1, **ISSUE, reason="external_dependency")
    [follow] = react(failed, issue_after(rec("ISSUE_APPROVED", 0, **ISSUE), failed), None)
    assert isinstance(follow.event, ev.Escalated)
    assert follow.event.rule == "smoke-external" and follow.event.caused_by == str(failed.id)


def test_smoke_code_failures_retry_until_the_third() -> None:
    events = [rec("ISSUE_APPROVED", 0, **ISSUE)]
    outcomes = []
    for i in range(1, 4):
        failed = rec("SMOKE_FAILED", i, **ISSUE, reason="code", attempt=i)
        events.append(failed)
        outcomes.append(react(failed, issue_after(*events), None))
    assert outcomes[0] == [] and outcomes[1] == []
    assert isinstance(outcomes[2][0].event, ev.Escalated) and outcomes[2][0].event.rule == "smoke-retries"


def test_two_strikes_then_human() -> None:
    base = [rec("ISSUE_APPROVED", 0, **ISSUE), rec("ISSUE_ASSIGNED", 1, **ISSUE, agentId="a")]
    first = rec("AGENT_STUCK", 2, **ISSUE, agentId="a")
    [unassign] = react(first, issue_after(*base, first), None)
    assert isinstance(unassign.event, ev.IssueUnassigned) and unassign.event.agent_id == "a"
    second = rec("AGENT_STUCK", 3, **ISSUE, agentId="b")
    [escalate] = react(second, issue_after(*base, first, second), None)
    assert isinstance(escalate.event, ev.Escalated) and escalate.event.rule == "two-strikes"


def test_follow_up_ids_are_derived_from_the_cause() -> None:
    failed = rec("SMOKE_FAILED", 1, **ISSUE, reason="external_dependency")
    doc = issue_after(failed)
    assert react(failed, doc, None)[0].event_id == react(failed, doc, None)[0].event_id


def test_milestone_complete_once_all_done() -> None:
    done = rec("ISSUE_DONE", 5, **ISSUE)
    ms = MilestoneStatus(id="m", repo="acme/app", milestone="v1", issues=[7, 8], done=[7, 8])
    [follow] = react(done, issue_after(done), ms)
    assert isinstance(follow.event, ev.MilestoneComplete) and follow.event.issue_count == 2
    assert react(done, issue_after(done), ms.model_copy(update={"done": [7]})) == []
    assert react(done, issue_after(done), ms.model_copy(update={"completed": True})) == []


def test_no_heartbeat_rule() -> None:
    assign = rec("ISSUE_ASSIGNED", 0, **ISSUE, agentId="a")
    issue = issue_after(rec("ISSUE_APPROVED", 0, **ISSUE), assign)
    agent = agent_status.evolve(None, "a", assign)
    timeout = timedelta(minutes=10)
    assert stuck_for_silence(agent, issue, T0 + timedelta(minutes=9), timeout) is None
    late = stuck_for_silence(agent, issue, T0 + timedelta(minutes=11), timeout)
    assert late is not None and isinstance(late.event, ev.AgentStuck) and late.event.rule == "no-heartbeat"
    assert late.event_id == stuck_for_silence(agent, issue, T0 + timedelta(minutes=30), timeout).event_id  # type: ignore[union-attr]
    beat = agent_status.evolve(agent, "a", rec("HEARTBEAT", 10, agentId="a"))
    assert stuck_for_silence(beat, issue, T0 + timedelta(minutes=15), timeout) is None


def test_an_agent_stuck_naming_no_issue_moves_to_the_issue_its_agent_holds() -> None:
    from eventstore.events import parse_event
    from eventstore.projections.agent_status import AgentStatus
    from eventstore.store import PendingEvent
    from eventstore.submit import attributed, needs_attribution

    from_pod = PendingEvent.of(parse_event("AGENT_STUCK", {"agentId": "dev-e-1/abc12", "reason": "loop"}))
    assert needs_attribution(from_pod)
    moved = attributed(from_pod, AgentStatus(id="dev-e-1", assignment="acme/app#7"))
    assert moved.stream.id == "acme/app#7" and moved.event.issue_number == 7  # type: ignore[attr-defined]
    assert moved.event_id == from_pod.event_id
    assert attributed(from_pod, AgentStatus(id="dev-e-1")) is from_pod  # holds nothing: the agent's stream
    assert attributed(from_pod, None) is from_pod
    named = PendingEvent.of(parse_event("AGENT_STUCK", {"agentId": "dev-e-1", "repo": "o/r", "issueNumber": 3}))
    assert not needs_attribution(named)


def test_the_gate_ladder_escalates_the_reminders_after_the_first_n() -> None:
    def reminder(n: int | None) -> ev.HumanGateReminder:
        return ev.HumanGateReminder(repo="a/b", issue_number=1, reminder=n)

    assert [reminder_escalates(reminder(n), 4) for n in (1, 4, 5, 9)] == [False, False, True, True]
    assert reminder_escalates(reminder(1), 0)  # 0: every reminder escalates
    assert not reminder_escalates(reminder(None), 0)  # posted without its number: never
