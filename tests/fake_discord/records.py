"""What the fake saw, kept in plain objects tests can assert on."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

JSON = dict[str, Any]

# Interaction callback types (https://discord.com/developers/docs/interactions/receiving-and-responding).
CHANNEL_MESSAGE_WITH_SOURCE = 4
DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE = 5
DEFERRED_UPDATE_MESSAGE = 6
UPDATE_MESSAGE = 7
AUTOCOMPLETE_RESULT = 8
MODAL = 9


class RecordedRequest(NamedTuple):
    """One REST request. ``path`` is relative to /api/v10, without the query.

    Every attempt is recorded, including ones the fake failed on purpose, so a
    retried request shows up twice.
    """

    method: str
    path: str
    json: Any
    at: float = 0.0  # time.perf_counter() when it arrived


class FailedRequest(NamedTuple):
    method: str
    path: str
    route: str  # e.g. "POST /channels/{channel_id}/messages"
    status: int


@dataclass
class Callback:
    """One interaction callback (POST /interactions/{id}/{token}/callback)."""

    interaction_id: str
    type: int
    data: JSON
    ephemeral: bool
    # The message the callback created or updated (types 4, 5, 7), else None.
    message: JSON | None = None


@dataclass
class InteractionRecord:
    """An interaction the fake injected, and what the bot did with it."""

    id: str
    token: str
    type: int
    payload: JSON
    channel_id: str
    callbacks: list[Callback] = field(default_factory=list)
    # The message "@original" refers to: the response message for commands,
    # the clicked message for component interactions answered with type 6/7.
    original_message_id: str | None = None
    followup_ids: list[str] = field(default_factory=list)

    @property
    def acknowledged(self) -> bool:
        return bool(self.callbacks)


@dataclass(frozen=True)
class InjectedInteraction:
    """Returned by the injection helpers; pass it (or its id) to wait_callback."""

    id: str
    token: str
    payload: JSON
