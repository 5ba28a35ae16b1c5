"""Interfaces for checkpointed readers of the event log (Discord delivery is one)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Lag:
    """How far a reader is behind the log: events after its checkpoint, and how old the oldest
    of them is (0 when it is caught up)."""

    events: int
    seconds: float


class Checkpoints(Protocol):
    """Progress of named readers, kept in ``mt_event_progression`` (Marten's ``<Name>:All`` rows)."""

    async def load(self, name: str) -> int:
        """The last sequence the reader finished; 0 if it never ran."""
        ...

    async def save(self, name: str, seq: int) -> None: ...

    async def lag(self, name: str) -> Lag: ...


class ThreadLinks(Protocol):
    """Which Discord thread holds an issue stream, and how far each thread has been posted."""

    async def thread_for(self, stream_id: str) -> tuple[int, int] | None:
        """(thread id, last posted sequence) or None."""
        ...

    async def link(self, stream_id: str, thread_id: int) -> None: ...

    async def posted(self, stream_id: str, seq: int) -> None:
        """Record that everything on the stream up to ``seq`` is in its thread."""
        ...

    async def message_for(self, key: str) -> tuple[int, int] | None:
        """(channel id, message id) remembered under ``key`` (for example a gate's panel)."""
        ...

    async def remember_message(self, key: str, channel_id: int, message_id: int) -> None: ...

    async def forget_message(self, key: str) -> None: ...

    async def stream_of_message(self, message_id: int) -> str | None:
        """The issue stream whose panel is ``message_id`` (keys are ``<panel>:<stream id>``)."""
        ...
