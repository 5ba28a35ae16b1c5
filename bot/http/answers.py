"""The shapes of the API's JSON answers, as pydantic models: what the OpenAPI description
(``openapi.py``) says each route answers. The routes build their answers themselves (``render``,
the routes' ``*_json``); the schemathesis test checks every answer against these shapes, so the
two cannot drift apart unnoticed.

Field names are snake_case here and camelCase in the description and on the wire, as everywhere.
Every shape allows fields it does not name: answers grow, and clients ignore what they do not know.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from eventstore.events import SentTimestamp
from eventstore.projections.agent_status import AgentStatus
from eventstore.projections.execution_log import ExecutionLog
from eventstore.projections.issue_status import IssueStatus


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class Problem(_Open):
    field: str | None
    message: str


class ErrorBody(_Open):
    """Every refusal: a stable code, a sentence, and what else helps (``problems`` for a body's
    fields, ``knownTypes``, ``actualVersion``, ...)."""

    error: str
    message: str
    problems: list[Problem] | None = None


class AppendAnswer(_Open):
    stream_id: str
    type: str
    timestamp: datetime
    version: int
    sequence: int
    event_id: uuid.UUID
    duplicate: bool
    warnings: list[str] | None = None  # what was changed to store the event (NUL replaced)


class FeedEvent(_Open):
    """A stored event: its place in the store, then its own fields (camelCase)."""

    sequence: int
    stream_id: str
    version: int
    type: str
    event_id: uuid.UUID
    timestamp: datetime


class AgentAnswer(AgentStatus):
    is_online: bool
    degraded: list[str]
    agent: str  # the agent the entry belongs to (itself, or a pod's agent)
    pod: str | None


class ClaimAnswer(IssueStatus):
    claimed: bool  # False: the agent's own unfinished assignment, handed back


class RunAnswer(ExecutionLog):
    """A run; lists and updates leave its ``logs`` out (``logLines`` counts them)."""

    warnings: list[str] | None = None
    accepted: int | None = None  # a logs post: lines stored
    dropped: int | None = None  # and lines past the run's bound
    duplicate: bool | None = None  # a completion: the same one again


class AgentLogsAccepted(_Open):
    agent_id: str
    accepted: int
    warnings: list[str] | None = None


class AgentLogEntryAnswer(_Open):
    id: int
    agent_id: str
    timestamp: SentTimestamp
    level: str
    message: str
    received_at: datetime


class LearningAnswer(_Open):
    repo: str
    key: str
    value: str
    set_by: str | None
    updated_at: datetime
    changed: bool | None = None  # a post: False when the key had that value already


class MergeAnswer(_Open):
    repo: str
    pr_number: int
    merged: bool
    sha: str | None
    requested_by: str
    events: list[AppendAnswer]


class Component(_Open):
    """One long-lived part of the process (``lagEvents``, ``parked`` and the like where they apply)."""

    state: str
    since: float | None = None
    detail: str | None = None
    restarts: int | None = None


class HealthReport(_Open):
    status: str  # ok | unavailable
    database: str  # up | down
    components: dict[str, Component] | None = None  # in the tokens mode, only with a token
