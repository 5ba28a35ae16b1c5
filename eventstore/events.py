"""The event catalogue: one frozen pydantic model per event type.

Every event has three names, declared once here:
- the wire name agents send (``ISSUE_APPROVED``), ``Event.wire_name``;
- the class name (``IssueApproved``, past tense);
- the stored alias Marten would write in ``mt_events.type`` (``issue_approved``), ``Event.alias``.
A golden-list test pins all three: never rename a stored alias.

Fields are snake_case in Python, arrive in camelCase or PascalCase (``parse_event`` normalises
them) and are stored PascalCase (``Event.stored_data``), which is what SQL written for Marten reads.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from .naming import STORED_NAMES, marten_alias

# ---------------------------------------------------------------------------------------------
# Field types shared by many events.

# "owner/name": no '#' (it separates repo from issue number in a stream id) and no whitespace.
Repo = Annotated[str, StringConstraints(pattern=r"^[^\s#]+/[^\s#]+$", max_length=200)]
# Agent ids look like "dev-e-1" or "dev-e-node/abc12" (agent id, slash, pod name; see agents.py).
# A '#' would make an agent stream look like an issue stream, so it is refused; so is a leading
# '/', which would name a pod of no agent.
AgentId = Annotated[str, StringConstraints(pattern=r"^[^\s#/][^\s#]*$", min_length=1, max_length=200)]
IssueNumber = Annotated[int, Field(ge=1, le=2**31 - 1)]
# Where an issue is optional, 0 (or a missing one) means "no issue" (see streams.has_real_issue).
OptionalIssueNumber = Annotated[int, Field(ge=0, le=2**31 - 1)]
Count = Annotated[int, Field(ge=0, le=2**62)]
ShortText = Annotated[str, StringConstraints(max_length=2_000)]
LongText = Annotated[str, StringConstraints(max_length=100_000)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]

TARGET_PREVIEW_MAX = 120


class Priority(str, Enum):
    CRITICAL = "critical"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


class Event(BaseModel):
    """Base of every event. Unknown JSON fields are ignored so newer agents keep working."""

    # No NaN or infinity: they are not JSON, and PostgreSQL's jsonb would refuse the whole event.
    # Serialised by alias = PascalCase (see ``stored_data``); validation keeps the field names.
    model_config = ConfigDict(frozen=True, extra="ignore", allow_inf_nan=False,
                              alias_generator=STORED_NAMES)

    wire_name: ClassVar[str]
    alias: ClassVar[str]
    # The route that records this type, when it is not POST /api/events (see below).
    own_route: ClassVar[str | None] = None

    def __init_subclass__(cls, *, wire_name: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if wire_name is not None:
            cls.wire_name = wire_name
            cls.alias = marten_alias(cls.__name__)

    def stored_data(self) -> dict[str, Any]:
        """The body as Marten stores it: PascalCase keys, enums as their values, nulls written.
        The renaming happens inside pydantic's serializer (the alias generator), not in Python."""
        return self.model_dump(mode="json", by_alias=True)

    def stored_json(self) -> bytes:
        """``stored_data`` as compact JSON (UTF-8), written by pydantic's serializer in one pass
        (no dict in between); byte for byte what orjson makes of ``stored_data`` (tests pin it).
        Raises ``PydanticSerializationError`` for text UTF-8 cannot hold (a lone surrogate)."""
        return self.__pydantic_serializer__.to_json(self, by_alias=True)


class IssueEvent(Event):
    """An event that concerns one issue; it lives on the stream ``{repo}#{issueNumber}``."""

    repo: Repo
    issue_number: IssueNumber


class FollowUp(BaseModel):
    """Fields of events the rig's own rules may append: which event or rule caused them."""

    caused_by: ShortText | None = None  # the id of the event that triggered the rule
    rule: ShortText | None = None  # the rule's name, e.g. "two-strikes"


class Provider(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", alias_generator=STORED_NAMES)
    name: Name
    status: ShortText = "unknown"
    details: ShortText | None = None
    active: bool = False


class Integration(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", alias_generator=STORED_NAMES)
    name: Name
    status: ShortText = "unknown"
    details: ShortText | None = None


# ---------------------------------------------------------------------------------------------
# Lifecycle


class IssueApproved(IssueEvent, wire_name="ISSUE_APPROVED"):
    title: ShortText = ""
    priority: Priority = Priority.NORMAL
    depends_on: list[IssueNumber] = Field(default_factory=list, max_length=500)
    milestone: Name | None = None


class IssueAssigned(IssueEvent, FollowUp, wire_name="ISSUE_ASSIGNED"):
    agent_id: AgentId
    attempt: Count | None = None


class IssueUnassigned(IssueEvent, FollowUp, wire_name="ISSUE_UNASSIGNED"):
    agent_id: AgentId
    reason: ShortText | None = None


class WorkStarted(IssueEvent, wire_name="WORK_STARTED"):
    agent_id: AgentId
    branch: ShortText | None = None


class BranchCreated(IssueEvent, wire_name="BRANCH_CREATED"):
    branch: Name
    agent_id: AgentId | None = None


class PrCreated(IssueEvent, wire_name="PR_CREATED"):
    pr_number: IssueNumber
    pr_url: ShortText | None = None
    branch: ShortText | None = None
    agent_id: AgentId | None = None


class CiPassed(IssueEvent, wire_name="CI_PASSED"):
    pr_number: IssueNumber | None = None


class CiFailed(IssueEvent, wire_name="CI_FAILED"):
    pr_number: IssueNumber | None = None
    failed_checks: list[ShortText] = Field(default_factory=list, max_length=500)
    logs: LongText | None = None


class ReviewPassed(IssueEvent, wire_name="REVIEW_PASSED"):
    pr_number: IssueNumber | None = None
    agent_id: AgentId | None = None


class ReviewDisputed(IssueEvent, wire_name="REVIEW_DISPUTED"):
    pr_number: IssueNumber | None = None
    attempt: Count | None = None
    reason: ShortText | None = None
    agent_id: AgentId | None = None


class HumanGateTriggered(IssueEvent, wire_name="HUMAN_GATE_TRIGGERED"):
    reason: Annotated[str, StringConstraints(min_length=1, max_length=2_000)]
    pr_number: IssueNumber | None = None
    pr_url: ShortText | None = None


class Merged(IssueEvent, wire_name="MERGED"):
    pr_number: IssueNumber | None = None
    merge_sha: ShortText | None = None
    requested_by: ShortText | None = None  # who asked the service to merge (POST /api/merge)


class DeployedStaging(IssueEvent, wire_name="DEPLOYED_STAGING"):
    reason: ShortText | None = None  # the environment, as in the original service


class SmokePassed(IssueEvent, wire_name="SMOKE_PASSED"):
    pass


class SmokeFailed(IssueEvent, wire_name="SMOKE_FAILED"):
    reason: ShortText | None = None  # "code" (default) or "external_dependency"
    attempt: Count | None = None  # the agent's retry count
    max_retries: Count = 3


class DeployedProduction(IssueEvent, wire_name="DEPLOYED_PRODUCTION"):
    reason: ShortText | None = None


class Verified(IssueEvent, wire_name="VERIFIED"):
    pass


class IssueDone(IssueEvent, wire_name="ISSUE_DONE"):
    duration_minutes: float | None = Field(default=None, ge=0)


# ---------------------------------------------------------------------------------------------
# Health


class Heartbeat(Event, wire_name="HEARTBEAT"):
    agent_id: AgentId
    status: ShortText = "unknown"
    current_issue: Count | None = None
    current_repo: ShortText | None = None
    active_provider: ShortText | None = None
    available_providers: list[Name] = Field(default_factory=list, max_length=100)
    providers: list[Provider] = Field(default_factory=list, max_length=100)
    integrations: list[Integration] = Field(default_factory=list, max_length=100)


class AgentStuck(Event, FollowUp, wire_name="AGENT_STUCK"):
    """An agent unresponsive or over its SLA; on the issue's stream when it names one."""

    agent_id: AgentId
    reason: ShortText | None = None
    attempt: Count | None = None
    repo: str = ""
    issue_number: OptionalIssueNumber = 0


# ---------------------------------------------------------------------------------------------
# Escalation


class Escalated(IssueEvent, FollowUp, wire_name="ESCALATED"):
    reason: ShortText | None = None
    attempts: Count | None = None


class HumanGateReminder(IssueEvent, FollowUp, wire_name="HUMAN_GATE_REMINDER"):
    pr_number: IssueNumber | None = None
    attempt: Count | None = None  # minutes waited so far
    # Which reminder of its gate this is by the gate's schedule (n after n intervals), set by the
    # gate-reminder rule: reminders missed during an outage are folded into one, which still counts
    # as the nth, so the escalation ladder follows how long the gate waited. None: posted without it.
    reminder: Count | None = None


class MilestoneComplete(Event, FollowUp, wire_name="MILESTONE_COMPLETE"):
    repo: Repo
    milestone: Name
    issue_count: Count = 0


class HumanDecision(BaseModel):
    """Fields of the events only a human may cause, and their audit trail: who decided
    (``decided_by``, a name), through which channel (``decided_via``: ``discord`` or ``api``) and
    their id there (``decider_id``: the Discord user's id, or the operator's name). The service
    stamps all three from the credential (``authorization``), whatever a body says; the event's
    timestamp says when. Events stored before the audit fields existed have no channel."""

    decided_by: Name
    decided_via: Literal["discord", "api"] | None = None
    decider_id: ShortText | None = None


class HumanGateApproved(IssueEvent, HumanDecision, wire_name="HUMAN_GATE_APPROVED"):
    pr_number: IssueNumber | None = None
    reason: ShortText | None = None


class HumanGateRejected(IssueEvent, HumanDecision, wire_name="HUMAN_GATE_REJECTED"):
    pr_number: IssueNumber | None = None
    reason: ShortText | None = None


class IssueRequeued(IssueEvent, HumanDecision, wire_name="ISSUE_REQUEUED"):
    """A human puts an escalated issue back in the queue."""

    reason: ShortText | None = None


class IssueClosed(IssueEvent, HumanDecision, wire_name="ISSUE_CLOSED"):
    """A human closes an issue without finishing it (for example after an escalation)."""

    reason: ShortText | None = None


# ---------------------------------------------------------------------------------------------
# Observability: analytics, stored on the issue stream when there is a real issue, otherwise on
# the agent's stream (never on a stream called "#0").


def _no_issue_for_null(cls: type, value: Any, info: Any) -> Any:
    """A null repo or issue number means "no issue": agent runtimes send ``issueNumber: null`` when
    their issue-number setting is not a number (analytics events, execution logs)."""
    if value is None:
        return "" if info.field_name == "repo" else 0
    return value


class ObservabilityEvent(Event):
    """Analytics: never lost for a cosmetic defect. A null repo or issue number means "no issue"
    (the event goes to the agent's stream), and NUL in free text is replaced (``submission``)."""

    agent_id: AgentId
    repo: str = Field(default="", max_length=200)
    issue_number: OptionalIssueNumber = 0

    _null_is_no_issue = field_validator("repo", "issue_number", mode="before")(_no_issue_for_null)


class ToolUsed(ObservabilityEvent, wire_name="TOOL_USED"):
    tool_name: Name
    turn: Count | None = None
    target_preview: str | None = None
    duration_ms: Count | None = None
    is_mcp: bool = False

    @field_validator("target_preview", mode="before")
    @classmethod
    def _trim_preview(cls, value: Any) -> Any:
        # The seed keeps previews to 120 characters; agents do not always trim, so we do.
        if isinstance(value, str) and len(value) > TARGET_PREVIEW_MAX:
            return value[:TARGET_PREVIEW_MAX]
        return value


class MemoryWrite(ObservabilityEvent, wire_name="MEMORY_WRITE"):
    scope: ShortText | None = None
    kind: ShortText | None = None
    memory_id: ShortText | None = None
    tokens: Count | None = None


class MemoryRead(ObservabilityEvent, wire_name="MEMORY_READ"):
    query: LongText | None = None
    hits: Count | None = None
    tokens_loaded: Count | None = None


class MemoryHitUsed(Event, wire_name="MEMORY_HIT_USED"):
    memory_id: Name
    agent_id: AgentId
    used_in_output: bool


class TokenUsage(ObservabilityEvent, wire_name="TOKEN_USAGE"):
    model: ShortText | None = None
    input_tokens: Count = 0
    output_tokens: Count = 0
    cost_usd: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    category: ShortText = ""


# ---------------------------------------------------------------------------------------------
# Recorded through routes of their own, not POST /api/events (``own_route``): their use cases
# check what these events need first (the execution exists, the caller's agent owns it, a cap),
# so a body posted to /api/events could skip those checks.
#
# Execution logs: one stream per run of an agent on an assignment (``executions``).

Money = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Status = Annotated[str, StringConstraints(min_length=1, max_length=100)]
# A log message or a step's detail longer than this is cut to it (a diagnostic is worth keeping
# even when a runtime dumps a whole file into one line; the body limit bounds the rest).
DIAGNOSTIC_TEXT_MAX = 4_000
# A log entry's own timestamp, kept as sent: ISO text, or a number (epoch seconds or milliseconds).
SentTimestamp = Annotated[str, StringConstraints(max_length=100)] | int | float | None


def cut_diagnostic_text(value: Any) -> Any:
    return value[:DIAGNOSTIC_TEXT_MAX] if isinstance(value, str) and len(value) > DIAGNOSTIC_TEXT_MAX else value


class ExecutionStep(BaseModel):
    """One step of a run as the runtime reports it (``type`` is its kind: clone, llm, pr, ...)."""

    model_config = ConfigDict(frozen=True, extra="ignore", allow_inf_nan=False, alias_generator=STORED_NAMES)
    type: ShortText = ""
    status: ShortText = ""
    detail: str | None = None
    cost_usd: Money | None = None
    turns: Count | None = None

    @field_validator("detail", mode="before")
    @classmethod
    def _cut_detail(cls, value: Any) -> Any:
        return cut_diagnostic_text(value)


class LogLine(BaseModel):
    """A line of a run's log. ``timestamp`` is kept as the runtime sent it."""

    model_config = ConfigDict(frozen=True, extra="ignore", allow_inf_nan=False, alias_generator=STORED_NAMES)
    timestamp: SentTimestamp = None
    level: ShortText = ""
    message: str

    @field_validator("message", mode="before")
    @classmethod
    def _cut_message(cls, value: Any) -> Any:
        return cut_diagnostic_text(value)


class ExecutionEvent(Event):
    own_route: ClassVar[str] = "/api/execution-logs"
    execution_id: Annotated[str, StringConstraints(min_length=1, max_length=100)]


class ExecutionStarted(ExecutionEvent, wire_name="EXECUTION_STARTED"):
    agent_id: AgentId
    repo: str = Field(default="", max_length=200)  # "" and 0: the run names no issue
    issue_number: OptionalIssueNumber = 0
    status: Status = "running"
    model: ShortText | None = None
    steps: list[ExecutionStep] = Field(default_factory=list)

    _null_is_no_issue = field_validator("repo", "issue_number", mode="before")(_no_issue_for_null)


class ExecutionStepRecorded(ExecutionEvent, wire_name="EXECUTION_STEP_RECORDED"):
    step: ExecutionStep


class ExecutionLogsAppended(ExecutionEvent, wire_name="EXECUTION_LOGS_APPENDED"):
    lines: list[LogLine]


class ExecutionCompleted(ExecutionEvent, wire_name="EXECUTION_COMPLETED"):
    status: Status
    total_cost_usd: Money | None = None
    total_turns: Count | None = None
    total_input_tokens: Count | None = None
    total_output_tokens: Count | None = None
    cache_read_tokens: Count | None = None
    cache_creation_tokens: Count | None = None
    duration_api_ms: Money | None = None  # a number of milliseconds; fractions are kept
    pr_number: IssueNumber | None = None

    @field_validator("pr_number", mode="before")
    @classmethod
    def _zero_is_no_pr(cls, value: Any) -> Any:
        return None if value == 0 and not isinstance(value, bool) else value


# Repo learnings: the rig's memory of each repo, the latest value per key (``learnings``).


class RepoLearningRecorded(Event, wire_name="REPO_LEARNING_RECORDED"):
    own_route: ClassVar[str] = "/api/repo-learnings"
    repo: Repo
    key: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    value: Annotated[str, StringConstraints(max_length=4_000)]
    set_by: Name | None = None  # the agent (or operator) that set it


# The daily digest (``digest``): what the rig did in a period, as it was reported. Appended by the
# scheduler under an id derived from the day, so each day's digest is stored (and posted) once.

DIGEST_STREAM = "rig#digest"  # no '/' before the '#': not an issue's stream; a '#': not an agent's


class CostShare(BaseModel):
    """LLM cost (TOKEN_USAGE) of one agent or one repo over a period."""

    model_config = ConfigDict(frozen=True, extra="ignore", allow_inf_nan=False, alias_generator=STORED_NAMES)
    key: ShortText  # an agent (its pods counted as it), or a repo ("" for usage naming none)
    cost_usd: Money = 0.0
    input_tokens: Count = 0
    output_tokens: Count = 0
    turns: Count = 0


class DigestCompiled(Event, wire_name="DIGEST_COMPILED"):
    own_route: ClassVar[str] = "the scheduler (DIGEST_TIME)"
    period_start: datetime
    period_end: datetime
    done: list[ShortText] = Field(default_factory=list, max_length=100)  # issue streams, the first listed
    done_count: Count = 0
    escalated: list[ShortText] = Field(default_factory=list, max_length=100)
    escalated_count: Count = 0
    stuck_reports: Count = 0
    merged_count: Count = 0
    median_merge_minutes: Money | None = None  # from the PR's opening to its merge
    gates_approved: Count = 0
    gates_rejected: Count = 0
    median_gate_wait_minutes: Money | None = None  # from the gate's opening to its decision
    cost_usd: Money = 0.0
    cost_by_agent: list[CostShare] = Field(default_factory=list, max_length=100)  # the costliest first
    cost_by_repo: list[CostShare] = Field(default_factory=list, max_length=100)


# ---------------------------------------------------------------------------------------------
# The registry.


def _all_event_classes() -> list[type[Event]]:
    found: list[type[Event]] = []
    stack: list[type[Event]] = list(Event.__subclasses__())
    while stack:
        cls = stack.pop(0)
        if "wire_name" in cls.__dict__:
            found.append(cls)
        stack.extend(cls.__subclasses__())
    return found


EVENT_TYPES: dict[str, type[Event]] = {cls.wire_name: cls for cls in _all_event_classes()}
BY_ALIAS: dict[str, type[Event]] = {cls.alias: cls for cls in EVENT_TYPES.values()}
# What POST /api/events takes: every type but those recorded through a route of their own.
KNOWN_TYPES: tuple[str, ...] = tuple(sorted(w for w, cls in EVENT_TYPES.items() if cls.own_route is None))

OBSERVABILITY: frozenset[str] = frozenset(
    {"TOOL_USED", "MEMORY_WRITE", "MEMORY_READ", "MEMORY_HIT_USED", "TOKEN_USAGE"}
)


class UnknownEventType(ValueError):
    def __init__(self, given: object) -> None:
        super().__init__(f"unknown event type {given!r}")
        self.given = given


def event_class(wire_name: str) -> type[Event]:
    try:
        return EVENT_TYPES[wire_name]
    except KeyError:
        raise UnknownEventType(wire_name) from None


def parse_event(wire_name: str, fields: dict[str, Any]) -> Event:
    """Validate inbound fields (any casing, see ``naming.accepted_names``) into the event model;
    raises pydantic's ValidationError."""
    return event_class(wire_name).model_validate(fields)


def load_stored(alias: str, data: dict[str, Any]) -> Event | None:
    """Rebuild an event from its stored row; None for aliases this service does not know."""
    cls = BY_ALIAS.get(alias)
    if cls is None:
        return None
    return cls.model_validate(data)  # stored PascalCase, read by the model's accepted names
