"""Documents are stored the way Marten's serializer writes them: PascalCase at every level."""

from __future__ import annotations

import json
from functools import reduce

from eventstore.postgres.documents import dump_doc, load_doc
from eventstore.projections import agent_status, issue_status, milestone_status
from eventstore.projections.agent_status import AgentStatus
from eventstore.projections.issue_status import IssueStatus

from .helpers import ISSUE, pascal_keys, rec


def _stored_the_old_way(doc: object) -> object:
    # the rule the alias generator replaced: dump, then rename every key with pascal_key
    return pascal_keys(doc.model_dump(mode="json"))  # type: ignore[attr-defined]


def test_issue_status_with_gate_and_escalation_is_stored_pascal_case_and_loads_back() -> None:
    events = [
        rec("ISSUE_APPROVED", 0, **ISSUE, title="t", dependsOn=[3], milestone="m1"),
        rec("ISSUE_ASSIGNED", 1, **ISSUE, agentId="dev-e-1"),
        rec("PR_CREATED", 2, **ISSUE, agentId="dev-e-1", prNumber=9, prUrl="https://x/9"),
        rec("HUMAN_GATE_TRIGGERED", 3, **ISSUE, prNumber=9, reason="schema change"),
        rec("ESCALATED", 4, **ISSUE, reason="stuck", attempts=2),
    ]
    doc = reduce(issue_status.evolve, events, None)
    assert doc is not None and doc.gate is not None and doc.escalation is not None
    stored = json.loads(dump_doc(doc))
    assert stored == _stored_the_old_way(doc)
    assert "PrNumber" in stored["Gate"] and "Reason" in stored["Escalation"]
    assert load_doc(IssueStatus, stored) == doc


def test_agent_status_with_providers_is_stored_pascal_case_and_loads_back() -> None:
    beat = rec("HEARTBEAT", 0, agentId="dev-e-1", status="working", activeProvider="claude",
               providers=[{"name": "claude", "status": "ready", "active": True}],
               integrations=[{"name": "github", "status": "ok"}])
    doc = agent_status.evolve(None, "dev-e-1", beat)
    assert isinstance(doc, AgentStatus)
    stored = json.loads(dump_doc(doc))
    assert stored == _stored_the_old_way(doc)
    assert load_doc(AgentStatus, stored) == doc


def test_milestone_status_is_stored_pascal_case() -> None:
    doc = milestone_status.evolve(None, "acme/app@milestone:m1", "acme/app", "m1", 7,
                                  rec("ISSUE_APPROVED", 0, **ISSUE, milestone="m1"))
    assert json.loads(dump_doc(doc)) == _stored_the_old_way(doc)
