"""The merge's rules, pure: which state of an issue forbids merging its PR, who asked, and when an
assignment is still worth delivering."""

from __future__ import annotations

import pytest

from eventstore import events as ev
from eventstore.authorization import ANONYMOUS, Caller, NotPermitted, Role
from eventstore.conductor import assignment_current
from eventstore.merge import merge_refusal, parse_merge_request, requester
from eventstore.projections.issue_status import Gate, IssueState, IssueStatus
from eventstore.submission import InvalidSubmission


def issue(**fields: object) -> IssueStatus:
    return IssueStatus(id="acme/app#1", repo="acme/app", issue_number=1, pr_number=7, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("doc, code", [
    (issue(state=IssueState.IN_REVIEW), None),
    (issue(gate=Gate(open=True, reason="auth")), "gate_open"),
    (issue(gate=Gate(open=False, decision="rejected", decided_by="alice")), "gate_rejected"),
    (issue(gate=Gate(open=False, decision="approved")), None),
    (issue(ci_status="failed", failed_checks=["unit"]), "ci_failed"),
    (issue(ci_status="passed"), None),
    (issue(state=IssueState.CLOSED), "issue_closed"),
    (issue(state=IssueState.FAILED), "issue_escalated"),
])
def test_what_forbids_a_merge(doc: IssueStatus, code: str | None) -> None:
    refusal = merge_refusal(doc)
    assert (refusal.code if refusal is not None else None) == code


def test_requests_in_any_casing_and_who_asked() -> None:
    assert parse_merge_request({"REPO": "acme/app", "pr_number": 7}).pr_number == 7
    with pytest.raises(InvalidSubmission):
        parse_merge_request({"repo": "acme/app", "prNumber": "seven"})
    agent = Caller(Role.AGENT, "review-e")
    assert requester(agent, None) == "review-e" and requester(agent, "review-e/pod1") == "review-e/pod1"
    assert requester(Caller(Role.OPERATOR, "carol"), "review-e") == "carol"
    assert requester(ANONYMOUS, "review-e") == "review-e" and requester(ANONYMOUS, None) == "anonymous"
    with pytest.raises(NotPermitted):
        requester(agent, "dev-e-1")


def test_an_assignment_is_current_while_its_agent_holds_the_issue_at_that_attempt() -> None:
    assigned = ev.IssueAssigned(repo="acme/app", issue_number=1, agent_id="dev-e-1/pod", attempt=2)
    held = issue(state=IssueState.ASSIGNED, assigned_agent="dev-e-1", attempt=2)
    assert assignment_current(held, assigned)
    assert assignment_current(held.model_copy(update={"state": IssueState.IN_PROGRESS}), assigned)
    assert not assignment_current(held.model_copy(update={"attempt": 3}), assigned)  # assigned again since
    assert not assignment_current(held.model_copy(update={"assigned_agent": "dev-e-2"}), assigned)
    assert not assignment_current(held.model_copy(update={"state": IssueState.DONE}), assigned)
    assert not assignment_current(None, assigned)
    unnumbered = ev.IssueAssigned(repo="acme/app", issue_number=1, agent_id="dev-e-1")
    assert assignment_current(held.model_copy(update={"attempt": 5}), unnumbered)
