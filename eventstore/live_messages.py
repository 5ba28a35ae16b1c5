"""Messages the Discord side keeps up to date in place: each issue's status card and each issue
channel's board. Their ids are kept by the store, so a restart edits them and never posts another.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class CardRecord:
    stream_id: str
    channel_id: int  # the issue channel (text or forum) the thread is in
    thread_id: int
    message_id: int
    content: str  # what it shows now
    tags: tuple[int, ...] = ()  # a forum post's tags, as last applied


@dataclass(frozen=True)
class BoardRecord:
    channel_id: int  # the issue channel
    thread_id: int  # where the message is: the channel itself, or the forum's board post
    message_id: int
    content: str


class LiveMessages(Protocol):
    async def card_for(self, stream_id: str) -> CardRecord | None: ...

    async def threads_of(self, stream_ids: Sequence[str]) -> dict[str, tuple[int, int]]:
        """(issue channel, thread) of each of ``stream_ids`` that has a card."""
        ...

    async def save_card(self, card: CardRecord) -> None:
        """Store ``card`` (replacing the stream's earlier one)."""
        ...

    async def forget_card(self, stream_id: str) -> None: ...

    async def boards(self) -> dict[int, BoardRecord]:
        """Every board, by its issue channel."""
        ...

    async def save_board(self, board: BoardRecord) -> None: ...

    async def forget_board(self, channel_id: int) -> None: ...
