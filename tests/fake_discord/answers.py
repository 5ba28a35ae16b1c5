"""What the user finally sees for an interaction, however the bot got there.

A bot may answer at once (callback 4 or 7), or acknowledge first (5: "thinking…", 6: a deferred
update) and answer afterwards with a followup or an edit of ``@original``; or open a form (9).
``wait_answer`` waits until the answer is there and returns it, so a test does not depend on which
of those the bot chose.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .payloads import FLAG_EPHEMERAL, FLAG_LOADING, JSON
from .records import (
    CHANNEL_MESSAGE_WITH_SOURCE,
    DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE,
    DEFERRED_UPDATE_MESSAGE,
    MODAL,
    UPDATE_MESSAGE,
    InjectedInteraction,
    InteractionRecord,
)

if TYPE_CHECKING:
    from .server import FakeDiscord


@dataclass(frozen=True)
class Answer:
    """``content`` and its ``message`` (None for a form), whether only the user sees it, the first
    callback's type, and the form itself when the bot opened one (``modal``)."""

    content: str
    ephemeral: bool
    message: JSON | None
    first_type: int
    modal: JSON | None = None

    @property
    def buttons(self) -> list[JSON]:
        rows = (self.message or {}).get("components") or []
        return [c for row in rows for c in row.get("components", [])]


class AnswersMixin:
    """``wait_answer`` for FakeDiscord (kept apart to keep modules small)."""

    if TYPE_CHECKING:
        interactions: dict[str, InteractionRecord]
        wait_callback = FakeDiscord.wait_callback
        wait_for = FakeDiscord.wait_for

    async def wait_answer(self, interaction: InjectedInteraction | str, timeout: float = 5.0) -> Answer:
        first = await self.wait_callback(interaction, timeout)
        record = self.interactions[first.interaction_id]
        if first.type == MODAL:
            return Answer("", True, None, MODAL, first.data)
        if first.type == CHANNEL_MESSAGE_WITH_SOURCE:
            return Answer(first.data.get("content") or "", first.ephemeral, first.message, first.type)
        if first.type == UPDATE_MESSAGE:
            return Answer(first.data.get("content") or "", False, first.message, first.type)
        if first.type == DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE:
            message = await self.wait_for(lambda: _followed_up(self, record), timeout,
                                          f"the answer after deferring interaction {record.id}")
        elif first.type == DEFERRED_UPDATE_MESSAGE:
            message = await self.wait_for(lambda: _updated(self, record), timeout,
                                          f"the edit after deferring interaction {record.id}")
        else:
            raise AssertionError(f"interaction {record.id} answered with callback type {first.type}")
        return Answer(message.get("content") or "", bool(message["flags"] & FLAG_EPHEMERAL), message, first.type)


def _followed_up(fake: Any, record: InteractionRecord) -> JSON | None:
    """The first followup (which replaces "thinking…", or follows it once that was deleted), or
    the "thinking…" message once ``@original`` was edited."""
    if record.followup_ids:
        found: JSON | None = fake.state.message(record.followup_ids[0])
        return found
    original = fake.state.message(record.original_message_id) if record.original_message_id else None
    if original is not None and not original["flags"] & FLAG_LOADING:
        return original
    return None


def _updated(fake: Any, record: InteractionRecord) -> JSON | None:
    if record.followup_ids:
        found: JSON | None = fake.state.message(record.followup_ids[0])
        return found
    edits = fake.requests_to("PATCH", f"/webhooks/{fake.application_id}/{record.token}/messages/")
    if edits and record.original_message_id:
        edited: JSON | None = fake.state.message(record.original_message_id)
        return edited
    return None
