"""The event catalogue: names pinned, every type validated, routed and stored in Marten's shape."""

from __future__ import annotations

import orjson
import pytest
from pydantic import ValidationError

from eventstore.authorization import Caller, Role
from eventstore.events import EVENT_TYPES, KNOWN_TYPES, parse_event
from eventstore.naming import marten_alias
from eventstore.streams import StreamKind, parse_issue_stream_id, route
from eventstore.submission import InvalidSubmission, parse_submission

from .helpers import pascal_keys

# (wire name, class name, stored alias) -- never change an alias: stored rows carry it.
GOLDEN = [
    ("ISSUE_APPROVED", "IssueApproved", "issue_approved"),
    ("ISSUE_ASSIGNED", "IssueAssigned", "issue_assigned"),
    ("ISSUE_UNASSIGNED", "IssueUnassigned", "issue_unassigned"),
    ("WORK_STARTED", "WorkStarted", "work_started"),
    ("BRANCH_CREATED", "BranchCreated", "branch_created"),
    ("PR_CREATED", "PrCreated", "pr_created"),
    ("CI_PASSED", "CiPassed", "ci_passed"),
    ("CI_FAILED", "CiFailed", "ci_failed"),
    ("REVIEW_PASSED", "ReviewPassed", "review_passed"),
    ("REVIEW_DISPUTED", "ReviewDisputed", "review_disputed"),
    ("HUMAN_GATE_TRIGGERED", "HumanGateTriggered", "human_gate_triggered"),
    ("MERGED", "Merged", "merged"),
    ("DEPLOYED_STAGING", "DeployedStaging", "deployed_staging"),
    ("SMOKE_PASSED", "SmokePassed", "smoke_passed"),
    ("SMOKE_FAILED", "SmokeFailed", "smoke_failed"),
    ("DEPLOYED_PRODUCTION", "DeployedProduction", "deployed_production"),
    ("VERIFIED", "Verified", "verified"),
    ("ISSUE_DONE", "IssueDone", "issue_done"),
    ("HEARTBEAT", "Heartbeat", "heartbeat"),
    ("AGENT_STUCK", "AgentStuck", "agent_stuck"),
    ("ESCALATED", "Escalated", "escalated"),
    ("HUMAN_GATE_REMINDER", "HumanGateReminder", "human_gate_reminder"),
    ("MILESTONE_COMPLETE", "MilestoneComplete", "milestone_complete"),
    ("HUMAN_GATE_APPROVED", "HumanGateApproved", "human_gate_approved"),
    ("HUMAN_GATE_REJECTED", "HumanGateRejected", "human_gate_rejected"),
    ("ISSUE_REQUEUED", "IssueRequeued", "issue_requeued"),
    ("ISSUE_CLOSED", "IssueClosed", "issue_closed"),
    ("TOOL_USED", "ToolUsed", "tool_used"),
    ("MEMORY_WRITE", "MemoryWrite", "memory_write"),
    ("MEMORY_READ", "MemoryRead", "memory_read"),
    ("MEMORY_HIT_USED", "MemoryHitUsed", "memory_hit_used"),
    ("TOKEN_USAGE", "TokenUsage", "token_usage"),
    # recorded through their own routes (own_route), not /api/events
    ("EXECUTION_STARTED", "ExecutionStarted", "execution_started"),
    ("EXECUTION_STEP_RECORDED", "ExecutionStepRecorded", "execution_step_recorded"),
    ("EXECUTION_LOGS_APPENDED", "ExecutionLogsAppended", "execution_logs_appended"),
    ("EXECUTION_COMPLETED", "ExecutionCompleted", "execution_completed"),
    ("REPO_LEARNING_RECORDED", "RepoLearningRecorded", "repo_learning_recorded"),
    ("DIGEST_COMPILED", "DigestCompiled", "digest_compiled"),  # appended by the scheduler only
]

ISSUE = {"repo": "dashecorp/conductor-e", "issueNumber": 42}

# A minimal valid body per type, the stream it must land on, and the fields it cannot do without.
CASES: dict[str, tuple[dict, str, list[str]]] = {
    "ISSUE_APPROVED": ({**ISSUE, "title": "t", "priority": "high", "dependsOn": [41]},
                       "dashecorp/conductor-e#42", ["repo", "issueNumber"]),
    "ISSUE_ASSIGNED": ({**ISSUE, "agentId": "dev-e-1", "attempt": 1, "causedBy": "e-1"}, "dashecorp/conductor-e#42",
                       ["repo", "issueNumber", "agentId"]),
    "ISSUE_UNASSIGNED": ({**ISSUE, "agentId": "dev-e-1", "reason": "r"}, "dashecorp/conductor-e#42",
                         ["agentId"]),
    "WORK_STARTED": ({**ISSUE, "agentId": "dev-e-1", "branch": "b"}, "dashecorp/conductor-e#42", ["agentId"]),
    "BRANCH_CREATED": ({**ISSUE, "agentId": "dev-e-1", "branch": "b"}, "dashecorp/conductor-e#42", ["branch"]),
    "PR_CREATED": ({**ISSUE, "agentId": "dev-e-1", "prNumber": 7, "prUrl": "https://x/7", "branch": "b"},
                   "dashecorp/conductor-e#42", ["prNumber"]),
    "CI_PASSED": ({**ISSUE, "prNumber": 7}, "dashecorp/conductor-e#42", ["issueNumber"]),
    "CI_FAILED": ({**ISSUE, "prNumber": 7, "failedChecks": ["lint"], "logs": "boom"},
                  "dashecorp/conductor-e#42", ["repo"]),
    "REVIEW_PASSED": ({**ISSUE, "prNumber": 7}, "dashecorp/conductor-e#42", ["repo"]),
    "REVIEW_DISPUTED": ({**ISSUE, "prNumber": 7, "attempt": 2}, "dashecorp/conductor-e#42", ["repo"]),
    "HUMAN_GATE_TRIGGERED": ({**ISSUE, "prNumber": 7, "reason": "schema change"},
                             "dashecorp/conductor-e#42", ["reason"]),
    "MERGED": ({**ISSUE, "prNumber": 7, "mergeSha": "abc"}, "dashecorp/conductor-e#42", ["repo"]),
    "DEPLOYED_STAGING": ({**ISSUE, "reason": "staging"}, "dashecorp/conductor-e#42", ["repo"]),
    "SMOKE_PASSED": (dict(ISSUE), "dashecorp/conductor-e#42", ["issueNumber"]),
    "SMOKE_FAILED": ({**ISSUE, "reason": "code", "attempt": 1}, "dashecorp/conductor-e#42", ["repo"]),
    "DEPLOYED_PRODUCTION": ({**ISSUE, "reason": "production"}, "dashecorp/conductor-e#42", ["repo"]),
    "VERIFIED": (dict(ISSUE), "dashecorp/conductor-e#42", ["repo"]),
    "ISSUE_DONE": ({**ISSUE, "durationMinutes": 12.5}, "dashecorp/conductor-e#42", ["repo"]),
    "HEARTBEAT": ({"agentId": "dev-e-node/abc12", "status": "idle",
                   "providers": [{"name": "claude", "status": "ready", "active": True}],
                   "integrations": [{"name": "github", "status": "ok"}]}, "dev-e-node/abc12", ["agentId"]),
    "AGENT_STUCK": ({**ISSUE, "agentId": "dev-e-1", "reason": "sla"}, "dashecorp/conductor-e#42", ["agentId"]),
    "ESCALATED": ({**ISSUE, "reason": "r", "attempts": 2}, "dashecorp/conductor-e#42", ["repo"]),
    "HUMAN_GATE_REMINDER": ({**ISSUE, "prNumber": 7, "attempt": 30}, "dashecorp/conductor-e#42", ["repo"]),
    "MILESTONE_COMPLETE": ({"repo": "dashecorp/conductor-e", "milestone": "v1", "issueCount": 3},
                           "dashecorp/conductor-e@milestone:v1", ["milestone"]),
    "HUMAN_GATE_APPROVED": ({**ISSUE, "decidedBy": "alice"}, "dashecorp/conductor-e#42", ["decidedBy"]),
    "HUMAN_GATE_REJECTED": ({**ISSUE, "decidedBy": "alice"}, "dashecorp/conductor-e#42", ["decidedBy"]),
    "ISSUE_REQUEUED": ({**ISSUE, "decidedBy": "alice"}, "dashecorp/conductor-e#42", ["decidedBy"]),
    "ISSUE_CLOSED": ({**ISSUE, "decidedBy": "alice"}, "dashecorp/conductor-e#42", ["decidedBy"]),
    "TOOL_USED": ({**ISSUE, "agentId": "dev-e-1", "toolName": "Bash", "turn": 3, "durationMs": 12,
                   "isMcp": True}, "dashecorp/conductor-e#42", ["agentId", "toolName"]),
    "MEMORY_WRITE": ({**ISSUE, "agentId": "dev-e-1", "scope": "repo", "kind": "fact", "memoryId": "m",
                      "tokens": 9}, "dashecorp/conductor-e#42", ["agentId"]),
    "MEMORY_READ": ({**ISSUE, "agentId": "dev-e-1", "query": "q", "hits": 2, "tokensLoaded": 30},
                    "dashecorp/conductor-e#42", ["agentId"]),
    "MEMORY_HIT_USED": ({"memoryId": "m", "agentId": "dev-e-1", "usedInOutput": True}, "dev-e-1",
                        ["memoryId", "agentId", "usedInOutput"]),
    "TOKEN_USAGE": ({"agentId": "dev-e-1", "repo": "", "issueNumber": 0, "model": "m", "inputTokens": 10,
                     "outputTokens": 5, "costUsd": 0.01, "category": "idle"}, "dev-e-1", ["agentId"]),
}


def test_golden_names() -> None:
    assert sorted((w, c.__name__, c.alias) for w, c in EVENT_TYPES.items()) == sorted(GOLDEN)
    assert set(KNOWN_TYPES) == set(CASES)


@pytest.mark.parametrize("wire_name", sorted(set(EVENT_TYPES) - set(KNOWN_TYPES)))
def test_events_with_a_route_of_their_own_are_not_taken_by_api_events(wire_name: str) -> None:
    body = {"type": wire_name, "executionId": "x", "agentId": "dev-e-1", "repo": "o/r", "key": "k", "value": "v",
            "status": "done", "step": {}, "lines": []}
    with pytest.raises(InvalidSubmission) as caught:
        parse_submission(body)
    assert caught.value.code == "unknown_event_type"
    assert f"recorded through {EVENT_TYPES[wire_name].own_route}, not /api/events" in str(caught.value)


def test_own_route_events_route_to_streams_no_issue_or_agent_can_have() -> None:
    started = parse_event("EXECUTION_STARTED", {"executionId": "0190-ab", "agentId": "dev-e-1", "repo": "o/r",
                                                "issueNumber": 3})
    assert (route(started).id, route(started).kind) == ("execution#0190-ab", StreamKind.EXECUTION)
    learned = parse_event("REPO_LEARNING_RECORDED", {"repo": "o/r", "key": "k", "value": "v"})
    assert (route(learned).id, route(learned).kind) == ("o/r#learnings", StreamKind.LEARNINGS)
    assert parse_issue_stream_id("execution#0190-ab") is None and parse_issue_stream_id("o/r#learnings") is None
    digest = parse_event("DIGEST_COMPILED", {"periodStart": "2026-12-01T09:00:00Z", "periodEnd": "2026-12-02T09:00:00Z"})
    assert (route(digest).id, route(digest).kind) == ("rig#digest", StreamKind.DIGEST)
    assert parse_issue_stream_id("rig#digest") is None


@pytest.mark.parametrize("wire_name", sorted(CASES))
def test_every_type_parses_routes_and_stores_pascal_case(wire_name: str) -> None:
    body, stream_id, _ = CASES[wire_name]
    event = parse_event(wire_name, body)
    assert route(event).id == stream_id
    stored = event.stored_data()
    for key in body:
        pascal = key[0].upper() + key[1:]
        assert pascal in stored, (key, stored)
    # every key, nested and inherited ones included, is stored PascalCase (Marten's casing)
    assert stored == pascal_keys(event.model_dump(mode="json"))
    # the JSON the store writes is exactly that body, written by pydantic's serializer in one pass
    assert event.stored_json() == orjson.dumps(stored)
    # PascalCase input gives the same event
    pascal_body = {k[0].upper() + k[1:]: v for k, v in body.items()}
    assert parse_event(wire_name, pascal_body) == event


def _recase(value: object, casing: str) -> object:
    """``value`` with every key (camelCase in CASES) respelled, at every level."""
    def respell(key: str) -> str:
        snake = "".join("_" + c.lower() if c.isupper() else c for c in key)
        return {"Pascal": key[:1].upper() + key[1:], "snake": snake, "UPPER": snake.upper()}[casing]
    if isinstance(value, dict):
        return {respell(k): _recase(v, casing) for k, v in value.items()}
    if isinstance(value, list):
        return [_recase(v, casing) for v in value]
    return value


@pytest.mark.parametrize("casing", ["Pascal", "snake", "UPPER"])
@pytest.mark.parametrize("wire_name", sorted(CASES))
def test_every_type_is_read_in_every_casing_at_every_level(wire_name: str, casing: str) -> None:
    # The models match the spellings themselves (naming.accepted_names), nested models included
    # (HEARTBEAT's providers): a body respelled throughout is the same event.
    body, _, _ = CASES[wire_name]
    operator = Caller(Role.OPERATOR, "carol")  # human decisions need one; other events take anyone
    camel = parse_submission({"type": wire_name, **body}, caller=operator).event
    respelled = _recase({"type": wire_name, **body}, casing)
    assert parse_submission(respelled, caller=operator).event == camel


def test_a_refused_field_is_named_as_the_client_spelled_it_at_every_level() -> None:
    from eventstore.submission import InvalidSubmission

    with pytest.raises(InvalidSubmission) as caught:
        parse_submission({"Type": "HEARTBEAT", "AgentId": "a", "Providers": [{"Name": 5}, {"Status": "ready"}]})
    assert [p.field for p in caught.value.problems] == ["Providers.0.Name", "Providers.1.name"]  # missing: camelCase


@pytest.mark.parametrize("wire_name", sorted(CASES))
def test_every_type_refuses_a_body_without_its_required_fields(wire_name: str) -> None:
    body, _, required = CASES[wire_name]
    for name in required:
        incomplete = {k: v for k, v in body.items() if k != name}
        with pytest.raises(ValidationError):
            parse_event(wire_name, incomplete)


@pytest.mark.parametrize(
    ("name", "alias"),
    [("ToolUsed", "tool_used"), ("IssueStatusChanged", "issue_status_changed"), ("PRMerged", "pr_merged"),
     ("MCPToolCalled", "mcp_tool_called"), ("Module1Event", "module_1_event"), ("Archived", "archived")],
)
def test_marten_alias_rule(name: str, alias: str) -> None:
    assert marten_alias(name) == alias


def test_observability_without_issue_goes_to_agent_stream_never_hash_zero() -> None:
    for wire_name in ("TOOL_USED", "MEMORY_WRITE", "MEMORY_READ", "TOKEN_USAGE"):
        body = {"agentId": "dev-e-2", "repo": "", "issueNumber": 0, "toolName": "x"}
        ref = route(parse_event(wire_name, body))
        assert (ref.id, ref.kind) == ("dev-e-2", StreamKind.AGENT)
        ref = route(parse_event(wire_name, {**body, "repo": "o/r"}))  # repo but no number
        assert ref.id == "dev-e-2"


def test_agent_stuck_without_issue_goes_to_agent_stream() -> None:
    assert route(parse_event("AGENT_STUCK", {"agentId": "dev-e-1"})).id == "dev-e-1"


def test_target_preview_trimmed_and_unknown_fields_ignored() -> None:
    event = parse_event("TOOL_USED", {"agentId": "a", "toolName": "t", "targetPreview": "x" * 121, "extra": 1})
    assert event.stored_data()["TargetPreview"] == "x" * 120
    assert "Extra" not in event.stored_data()
