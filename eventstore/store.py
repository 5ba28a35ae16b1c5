"""The event store's interface, the recorded-event type and the store's errors.

Adapters (``eventstore.postgres``) implement ``EventStore``; the HTTP, Discord and scheduler edges
depend only on this module. The contract, edge cases included, is in each docstring.
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar

import orjson
from pydantic import BaseModel

from .events import BY_ALIAS, Event, load_stored
from .ids import new_event_id
from .read_models import DocumentQueries
from .streams import StreamRef, route

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


@dataclass(slots=True)
class PendingEvent:
    """An event on its way into the store. Not modified once made (the writer only reads it)."""

    event: Event
    stream: StreamRef
    event_id: uuid.UUID = field(default_factory=new_event_id)
    # None: append whatever the stream's version; n: append only if the stream is at version n
    # (0 means "the stream must not exist yet").
    expected_version: int | None = None
    # True when the id was chosen by the client or derived from a cause, so it may already be
    # stored (a retry); a fresh server-made id cannot be, and the store skips looking it up.
    may_exist: bool = False
    # The compact JSON (UTF-8) the store writes to ``mt_events.data`` (``Event.stored_json``):
    # given by submission, which makes it anyway to check it; made here otherwise.
    data_json: bytes = field(default=b"", kw_only=True, repr=False)
    # For a client-chosen id: a digest of the event as the client submitted it (before the service
    # moved or stamped anything), stored with it, so that a retry under the same id is told apart
    # from a different event under a reused id (IdempotencyConflict).
    fingerprint: bytes | None = field(default=None, kw_only=True)
    # What submission changed in the body to keep it (for example NUL replaced), for the answer.
    warnings: tuple[str, ...] = field(default=(), kw_only=True)

    def __post_init__(self) -> None:
        if not self.data_json:
            self.data_json = self.event.stored_json()

    @property
    def data(self) -> dict[str, Any]:
        """The stored body (``Event.stored_data``), PascalCase."""
        loaded: dict[str, Any] = orjson.loads(self.data_json)
        return loaded

    @classmethod
    def of(cls, event: Event, *, event_id: uuid.UUID | None = None,
           expected_version: int | None = None) -> PendingEvent:
        return cls(event, route(event), event_id or new_event_id(), expected_version, may_exist=event_id is not None)


@dataclass(slots=True)
class RecordedEvent:
    """An event as stored: its place in the global sequence and in its stream."""

    seq: int
    id: uuid.UUID
    stream_id: str
    version: int
    alias: str  # mt_events.type, e.g. "tool_used"
    timestamp: datetime
    data: dict[str, Any]  # PascalCase, as stored
    # The event's model when the writer has it; for a row read back, validated from ``data`` when
    # ``event`` is first read, so feed and stream pages, which render ``data``, never pay for it.
    model: Event | None = field(default=None, repr=False, compare=False)

    @property
    def event(self) -> Event | None:
        """The event; None for rows whose alias this service does not know or cannot read."""
        if self.model is None:
            try:
                self.model = load_stored(self.alias, self.data)
            except ValueError:  # a row another writer stored with fields we cannot read
                return None
        return self.model

    @property
    def wire_name(self) -> str:
        known = BY_ALIAS.get(self.alias)
        return known.wire_name if known is not None else self.alias.upper()


@dataclass(slots=True)
class AppendResult:
    recorded: RecordedEvent
    duplicate: bool  # True: the event id was already stored; nothing new was written


class StoreError(Exception):
    """Base of the store's own errors; driver errors never leak past the adapter."""


class ConcurrencyError(StoreError):
    def __init__(self, stream_id: str, expected: int, actual: int) -> None:
        super().__init__(
            f"unexpected version for stream {stream_id!r}: expected {expected}, but it is at {actual}"
        )
        self.stream_id, self.expected, self.actual = stream_id, expected, actual


class IdempotencyConflict(StoreError):
    """The event id is already stored for a different stream or event type."""


class StoreUnavailable(StoreError):
    """The database could not be reached or the write could not be committed; nothing is stored."""


def retry_answer(stored: RecordedEvent, pending: PendingEvent,
                 stored_fingerprint: bytes | None = None) -> AppendResult | StoreError:
    """The answer to ``pending`` whose id is stored already: the first answer again for a retry of
    the same event, IdempotencyConflict for a different one under the same id. With fingerprints
    on both sides they decide (a retried AGENT_STUCK may route elsewhere by now: still a retry);
    events stored without one (server-made ids, older rows) compare by stream and type."""
    if stored_fingerprint is not None and pending.fingerprint is not None:
        if stored_fingerprint != pending.fingerprint:
            return reused_id(pending)
    elif stored.stream_id != pending.stream.id or stored.alias != pending.event.alias:
        return IdempotencyConflict(
            f"event id {pending.event_id} is already stored as {stored.alias} on stream {stored.stream_id!r}"
        )
    return AppendResult(stored, duplicate=True)


def reused_id(pending: PendingEvent) -> IdempotencyConflict:
    return IdempotencyConflict(f"event id {pending.event_id} is already stored for a different event: "
                               "a retry must send the same body; a new event needs a new id")


class Unstorable(StoreError):
    """The database refuses this event's data itself (a retry cannot help); nothing is stored."""


class Rejected(StoreError):
    """A decision function refused the command (for example: the gate is already decided)."""


class UnitOfWork(DocumentQueries, Protocol):
    """What a decision function sees: consistent reads and appends, all in one transaction.

    Decisions run one at a time across every process sharing the database, so what they read
    cannot change before their appends commit. Besides documents by id it answers the read
    vocabulary's questions (``read_models.DocumentQueries``), never SQL.
    """

    now: datetime

    async def get(self, model: type[M], doc_id: str) -> M | None: ...

    async def stored_event(self, event_id: uuid.UUID) -> tuple[RecordedEvent, bytes | None] | None:
        """The event stored under ``event_id`` and its fingerprint (None if it has none), or None."""
        ...

    async def stream_version(self, stream_id: str) -> int: ...

    async def event_exists(self, event_id: uuid.UUID) -> bool: ...

    async def append(self, pending: PendingEvent) -> RecordedEvent: ...


class WriteObserver(Protocol):
    """Told of what a store's writer commits (the service's metrics). Called on the writer's task
    once the callers are answered, once per transaction: it must be quick and must not raise."""

    def appended(self, recorded: Sequence[RecordedEvent], appends: int, oldest_wait: float, seconds: float) -> None:
        """An append batch of ``appends`` committed: its new events (retries answered from the store
        are not among them), how long its oldest append waited from ``append`` to the commit (the
        longest wait of any of them), and the transaction's own time, in seconds."""

    def decided(self, recorded: Sequence[RecordedEvent], seconds: float) -> None:
        """A serialised decision (``decide``) committed: its events and its time from ``decide``
        to the commit, in seconds."""


class EventStore(ABC):
    @abstractmethod
    def append(self, pending: PendingEvent) -> Awaitable[AppendResult]:
        """Append one event durably: ``await store.append(p)`` returns once committed. (An
        awaitable rather than a coroutine, so that an implementation may hand back the very future
        its writer settles.)

        Concurrent calls share transactions (group commit). Raises ConcurrencyError when
        ``expected_version`` does not match, IdempotencyConflict when the event id is stored for
        another stream or type, StoreUnavailable when the database fails. A retry with an event id
        already stored returns the first result with ``duplicate=True`` and stores nothing.
        Inline projections and recovery rules are applied in the same transaction.
        """

    @abstractmethod
    async def decide(self, decision: Callable[[UnitOfWork], Awaitable[T]]) -> tuple[T, list[RecordedEvent]]:
        """Run ``decision`` serialised against every other write, then commit what it appended.

        Returns the decision's value and the events recorded. If the decision raises, nothing is
        stored and the exception propagates.
        """

    @abstractmethod
    async def read_stream(self, stream_id: str, from_version: int = 1,
                          limit: int | None = None) -> Sequence[RecordedEvent]:
        """Events of one stream in version order, from ``from_version``; empty if unknown."""

    @abstractmethod
    async def read_all(self, after: int = 0, limit: int = 1000) -> Sequence[RecordedEvent]:
        """Events with ``seq > after`` in global order. Never skips a committed event: appends are
        serialised, so no event with a lower sequence can commit after a higher one is visible."""

    @abstractmethod
    async def stream_version(self, stream_id: str) -> int:
        """The version of the stream's last event; 0 if there is no such stream."""

    @abstractmethod
    async def ping(self) -> None:
        """Raise StoreUnavailable unless the database answers."""
