"""ExecutionLog: one document per run of an agent on an assignment, a pure fold over its stream.

A run is started (EXECUTION_STARTED), reports steps and log lines while it goes, and is completed
once with its totals. The document keeps every step and the latest ``KEPT_LOG_LINES`` log lines
(``log_lines`` counts all of them; the events keep every line, see ``eventstore.executions``), so
it stays small enough to rewrite on every append and to list.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from .. import events as ev
from ..agents import agent_of
from ..naming import STORED_NAMES
from . import SortableTime

if TYPE_CHECKING:  # the store imports the read models, which import these
    from ..store import RecordedEvent

KEPT_LOG_LINES = 500

# The document keeps steps and lines in the events' own frozen models (same fields, stored alike).
Step = ev.ExecutionStep
LogLine = ev.LogLine

# What EXECUTION_COMPLETED records, by the names the document and the event share.
COMPLETION_FIELDS = ("status", "total_cost_usd", "total_turns", "total_input_tokens", "total_output_tokens",
                     "cache_read_tokens", "cache_creation_tokens", "duration_api_ms", "pr_number")


class ExecutionLog(BaseModel):
    model_config = ConfigDict(frozen=True, alias_generator=STORED_NAMES)

    id: str
    agent_id: str
    agent: str  # the agent a pod's run belongs to (``dev-e-1`` for ``dev-e-1/abc12``)
    repo: str = ""
    issue_number: int = 0
    status: str = "running"
    model: str | None = None
    steps: list[Step] = Field(default_factory=list)
    logs: list[LogLine] = Field(default_factory=list)  # the latest KEPT_LOG_LINES
    log_lines: int = 0  # every line recorded
    total_cost_usd: float | None = None
    total_turns: int | None = None
    total_input_tokens: int | None = None
    total_output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_creation_tokens: int | None = None
    duration_api_ms: float | None = None
    pr_number: int | None = None
    started_at: SortableTime  # lists order by its stored text, newest first
    updated_at: datetime
    completed_at: datetime | None = None

    @property
    def completed(self) -> bool:
        return self.completed_at is not None

    @property
    def cost_usd(self) -> float:
        """The run's cost: its total once completed with one, else what its steps reported so far."""
        if self.total_cost_usd is not None:
            return self.total_cost_usd
        return sum(s.cost_usd or 0.0 for s in self.steps)

    @property
    def turns(self) -> int:
        if self.total_turns is not None:
            return self.total_turns
        return sum(s.turns or 0 for s in self.steps)

    def completion(self) -> dict[str, object]:
        """What the completion recorded (compared with a repeated one)."""
        return {name: getattr(self, name) for name in COMPLETION_FIELDS}


def evolve(doc: ExecutionLog | None, rec: RecordedEvent) -> ExecutionLog | None:
    """The run's document after ``rec``; None while there is none (an event before the start,
    which the use cases never append)."""
    e, at = rec.event, rec.timestamp
    if isinstance(e, ev.ExecutionStarted):
        return ExecutionLog(id=e.execution_id, agent_id=e.agent_id, agent=agent_of(e.agent_id), repo=e.repo,
                            issue_number=e.issue_number, status=e.status, model=e.model, steps=list(e.steps),
                            started_at=at, updated_at=at)
    if doc is None:
        return None
    u: dict[str, object] = {"updated_at": at}
    match e:
        case ev.ExecutionStepRecorded():
            u.update(steps=[*doc.steps, e.step])
        case ev.ExecutionLogsAppended():
            u.update(logs=[*doc.logs, *e.lines][-KEPT_LOG_LINES:], log_lines=doc.log_lines + len(e.lines))
        case ev.ExecutionCompleted():
            u.update({name: getattr(e, name) for name in COMPLETION_FIELDS}, completed_at=at)
    return doc.model_copy(update=u)
