"""Agent logs: each agent's own diagnostic lines, posted in batches every few seconds.

Not events: high-volume diagnostics that are worth keeping only for a while (see
``eventstore.postgres.schema.AGENT_LOGS_TABLE`` for why they live in a plain table). Kept per
agent, pods included (``dev-e-1/abc12`` is an agent ``dev-e-1``'s), and pruned by age
(``prune``, run by the scheduler).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from . import events as ev
from .authorization import ANONYMOUS, Caller, check_agent
from .diagnostic_text import storable
from .naming import STORED_NAMES, spellings
from .submission import InvalidSubmission, invalid_fields

MAX_ENTRIES = 1_000  # per post
_CORE = frozenset(name for f in ("timestamp", "level", "message") for name in spellings(f))


class AgentLogEntry(BaseModel):
    """A line as the agent sent it: ``timestamp``, ``level``, ``message`` and whatever else it
    carries (kept as sent, in ``extra``)."""

    model_config = ConfigDict(frozen=True, extra="allow", allow_inf_nan=False, alias_generator=STORED_NAMES)
    timestamp: ev.SentTimestamp = None
    level: ev.ShortText = ""
    message: str

    @field_validator("message", mode="before")
    @classmethod
    def _cut_message(cls, value: Any) -> Any:
        return ev.cut_diagnostic_text(value)  # the same bound as a run's log lines

    @property
    def extra(self) -> dict[str, Any]:
        return {k: v for k, v in (self.model_extra or {}).items() if k not in _CORE}


class AgentLogsBody(BaseModel):
    """What POST /api/agent-logs takes: an agent's entries."""

    model_config = ConfigDict(extra="ignore", alias_generator=STORED_NAMES)
    agent_id: ev.AgentId
    entries: list[AgentLogEntry] = Field(max_length=MAX_ENTRIES)


@dataclass(frozen=True)
class AgentLogBatch:
    agent_id: str
    entries: list[AgentLogEntry]
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class StoredLogEntry:
    id: int  # increasing in the order entries were received
    agent_id: str
    received_at: datetime
    timestamp: Any
    level: str
    message: str
    extra: dict[str, Any] = field(default_factory=dict)


class AgentLogs(Protocol):
    async def append(self, agent_id: str, entries: Sequence[AgentLogEntry], received_at: datetime) -> int:
        """Store ``entries`` of ``agent_id`` (in order) as received at ``received_at``; how many."""
        ...

    async def recent(self, agent_id: str | None = None, limit: int = 100,
                     before: int | None = None) -> list[StoredLogEntry]:
        """At most ``limit`` entries, newest first (by ``id``), of ``agent_id`` (None: every agent;
        a bare agent id: the agent and its pods; a pod's id: that pod), with ``id < before`` if given."""
        ...

    async def prune(self, older_than: datetime) -> int:
        """Delete the entries received before ``older_than``; how many."""
        ...


def parse_agent_logs(body: Any, caller: Caller = ANONYMOUS) -> AgentLogBatch:
    """``{agentId, entries: [{timestamp, level, message, …}]}`` as the batch ``caller`` may post."""
    cleaned, warnings = storable(body)
    if not isinstance(cleaned, dict):
        raise InvalidSubmission("invalid_body", "the body must be a JSON object: {agentId, entries: [...]}")
    try:
        batch = AgentLogsBody.model_validate(cleaned)
    except ValidationError as exc:
        raise invalid_fields(exc, "agent logs") from None
    check_agent(caller, batch.agent_id)
    return AgentLogBatch(batch.agent_id, batch.entries, warnings)
