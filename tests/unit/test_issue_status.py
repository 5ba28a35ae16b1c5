"""IssueStatus: the transition table, and leniency about order."""

from __future__ import annotations

from datetime import timedelta
from functools import reduce

from eventstore.projections.issue_status import IssueState, IssueStatus, evolve

from .helpers import ISSUE, T0, rec


def fold(*events) -> IssueStatus:
    return reduce(lambda doc, r: evolve(doc, r), events, None)  # type: ignore[arg-type, return-value]


def test_happy_path_through_every_state() -> None:
    steps = [
        (rec("ISSUE_APPROVED", 0, **ISSUE, title="feat", priority="high", dependsOn=[3], milestone="v1"), "queued"),
        (rec("ISSUE_ASSIGNED", 1, **ISSUE, agentId="dev-e-1"), "assigned"),
        (rec("WORK_STARTED", 2, **ISSUE, agentId="dev-e-1", branch="feat/7"), "in_progress"),
        (rec("PR_CREATED", 10, **ISSUE, prNumber=88, prUrl="https://gh/pr/88"), "in_review"),
        (rec("CI_FAILED", 11, **ISSUE, prNumber=88, failedChecks=["lint"]), "in_progress"),
        (rec("CI_PASSED", 12, **ISSUE, prNumber=88), "in_review"),
        (rec("REVIEW_PASSED", 13, **ISSUE, prNumber=88), "in_review"),
        (rec("MERGED", 14, **ISSUE, prNumber=88, mergeSha="abc"), "deploying"),
        (rec("DEPLOYED_STAGING", 15, **ISSUE, reason="staging"), "deploying"),
        (rec("SMOKE_PASSED", 16, **ISSUE), "deploying"),
        (rec("DEPLOYED_PRODUCTION", 17, **ISSUE, reason="production"), "deploying"),
        (rec("VERIFIED", 18, **ISSUE), "deploying"),
        (rec("ISSUE_DONE", 20, **ISSUE), "done"),
    ]
    doc = None
    for r, state in steps:
        doc = evolve(doc, r)
        assert doc.state.value == state, r.wire_name
    assert doc is not None
    assert (doc.title, doc.priority, doc.depends_on, doc.milestone) == ("feat", "high", [3], "v1")
    assert (doc.assigned_agent, doc.attempt, doc.branch, doc.pr_number) == ("dev-e-1", 1, "feat/7", 88)
    assert doc.ci_status == "passed" and doc.failed_checks == [] and doc.review_state == "passed"
    assert doc.environment == "production" and doc.duration_minutes == 18.0  # from WORK_STARTED
    assert doc.event_count == 13 and doc.last_event_type == "ISSUE_DONE"


def test_gate_opens_counts_reminders_and_closes_on_decision() -> None:
    doc = fold(rec("ISSUE_APPROVED", 0, **ISSUE), rec("PR_CREATED", 1, **ISSUE, prNumber=5),
               rec("HUMAN_GATE_TRIGGERED", 2, **ISSUE, reason="schema change"),
               rec("HUMAN_GATE_REMINDER", 32, **ISSUE, attempt=30))
    assert doc.gate_open and doc.gate is not None
    assert (doc.gate.reason, doc.gate.pr_number, doc.gate.reminders_sent) == ("schema change", 5, 1)
    approved = evolve(doc, rec("HUMAN_GATE_APPROVED", 40, **ISSUE, decidedBy="alice"))
    assert not approved.gate_open and approved.gate.decision == "approved"  # type: ignore[union-attr]
    assert approved.gate.decided_by == "alice"  # type: ignore[union-attr]
    rejected = evolve(doc, rec("HUMAN_GATE_REJECTED", 40, **ISSUE, decidedBy="bob"))
    assert rejected.state is IssueState.IN_PROGRESS and rejected.gate.decision == "rejected"  # type: ignore[union-attr]
    for closer, how in [("MERGED", "merged"), ("ISSUE_DONE", "done"), ("ESCALATED", "escalated")]:
        closed = evolve(doc, rec(closer, 50, **ISSUE))
        assert not closed.gate_open and closed.gate.decision == how  # type: ignore[union-attr]


def test_escalated_is_failed_until_a_human_acts() -> None:
    doc = fold(rec("ISSUE_APPROVED", 0, **ISSUE), rec("ISSUE_ASSIGNED", 1, **ISSUE, agentId="a"),
               rec("ESCALATED", 2, **ISSUE, reason="two strikes", attempts=2))
    assert doc.state is IssueState.FAILED and doc.escalation is not None and doc.escalation.reason == "two strikes"
    assert evolve(doc, rec("WORK_STARTED", 3, **ISSUE, agentId="a")).state is IssueState.FAILED
    requeued = evolve(doc, rec("ISSUE_REQUEUED", 4, **ISSUE, decidedBy="alice"))
    assert requeued.state is IssueState.QUEUED and requeued.escalation is None and requeued.assigned_agent is None
    assert evolve(doc, rec("ISSUE_CLOSED", 4, **ISSUE, decidedBy="alice")).state is IssueState.CLOSED


def test_unusual_order_is_recorded_not_refused() -> None:
    doc = fold(rec("PR_CREATED", 0, **ISSUE, prNumber=9), rec("ISSUE_APPROVED", 1, **ISSUE, title="late"))
    assert doc.state is IssueState.IN_REVIEW and doc.title == "late" and doc.approved
    done = fold(rec("ISSUE_DONE", 0, **ISSUE), rec("CI_FAILED", 1, **ISSUE, failedChecks=["x"]))
    assert done.state is IssueState.DONE and done.ci_status == "failed"


def test_stuck_and_smoke_counters() -> None:
    doc = fold(rec("ISSUE_APPROVED", 0, **ISSUE), rec("AGENT_STUCK", 1, **ISSUE, agentId="a"),
               rec("AGENT_STUCK", 2, **ISSUE, agentId="b"), rec("SMOKE_FAILED", 3, **ISSUE))
    assert (doc.stuck_count, doc.stuck_agents, doc.smoke_retries) == (2, ["a", "b"], 1)


def test_unassign_of_another_agent_does_not_clear_the_holder() -> None:
    doc = fold(rec("ISSUE_ASSIGNED", 0, **ISSUE, agentId="a"), rec("ISSUE_UNASSIGNED", 1, **ISSUE, agentId="b"))
    assert doc.assigned_agent == "a" and doc.state is IssueState.ASSIGNED


def test_a_decision_keeps_what_the_human_wrote_and_how_long_the_gate_waited() -> None:
    opened = fold(rec("ISSUE_APPROVED", 0, **ISSUE), rec("HUMAN_GATE_TRIGGERED", 10, **ISSUE, reason="auth"))
    gate = opened.gate
    assert gate is not None and gate.open and gate.decision_reason is None
    assert gate.waited(gate.since + timedelta(minutes=25)) == timedelta(minutes=25)  # open: until now
    rejected = evolve(opened, rec("HUMAN_GATE_REJECTED", 40, **ISSUE, decidedBy="bob", reason="split the migration"))
    assert rejected.gate is not None and not rejected.gate.open
    assert (rejected.gate.decision, rejected.gate.decided_by, rejected.gate.decision_reason) == \
        ("rejected", "bob", "split the migration")
    assert rejected.gate.waited(gate.since + timedelta(days=3)) == timedelta(minutes=30)  # closed: until decided
    reopened = evolve(rejected, rec("HUMAN_GATE_TRIGGERED", 50, **ISSUE, reason="auth, again"))
    approved = evolve(reopened, rec("HUMAN_GATE_APPROVED", 55, **ISSUE, decidedBy="alice"))
    assert approved.gate is not None and approved.gate.decision_reason is None  # a note is optional
    assert approved.gate.waited(T0) == timedelta(minutes=5)
    # documents stored before the field existed still load
    assert IssueStatus.model_validate({"Id": "a/b#1", "Repo": "a/b", "IssueNumber": 1,
                                       "Gate": {"Open": False, "Decision": "approved"}}).gate.decision_reason is None
