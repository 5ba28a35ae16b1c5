"""The Discord side as delivery needs it: the notifier, the card keeper and the board keeper call
a ``Poster`` (``bot.discord.poster`` implements it on discord.py) and tell its answers apart."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from .rendering import Post

MAX_MESSAGE_ATTEMPTS = 8  # refusals of one message (or card edit) before it is skipped


class MessageRefused(Exception):
    """Discord refused this message (or this thread) itself, not Discord failing: retrying at once
    cannot help; raised by the Poster."""


class Gone(Exception):
    """The message or the channel it was in no longer exists (deleted by someone)."""


@dataclass(frozen=True)
class NewThread:
    """What a new thread is made of, each read only if a thread is made (each may read the store)."""

    channel: Callable[[], Awaitable[int]]  # the issue channel it goes in (routing)
    name: Callable[[], Awaitable[str]]
    card: Callable[[], Awaitable[tuple[str, list[str]]]]  # its status card, and the forum tags it wants


@dataclass(frozen=True)
class OpenedThread:
    thread_id: int
    channel_id: int | None = None  # set when the thread was made now: the issue channel it is in
    card_id: int | None = None  # the status card posted with it (a forum post's starter message)
    card: str = ""
    tags: tuple[int, ...] = ()


class Poster(Protocol):
    async def ready(self) -> None: ...

    async def open_thread(self, thread_id: int | None, new: NewThread) -> OpenedThread:
        """An open thread: ``thread_id`` (unarchived if needed) or, if None or gone, a new one
        made of ``new``, with its status card first."""
        ...

    async def send(self, thread_id: int, post: Post, stream_id: str) -> int:
        """The new message's id; raises MessageRefused if Discord refuses it for good."""
        ...

    async def send_to_channel(self, channel_id: int, post: Post) -> int:
        """Like ``send``, in a text channel (or a thread) itself."""
        ...

    async def close_panel(self, channel_id: int, message_id: int, panel: str, stream_id: str, note: str) -> None:
        """Disable the panel's buttons and add ``note`` (who decided, or what closed it)."""
        ...

    async def is_forum(self, channel_id: int) -> bool: ...

    async def parent_of(self, thread_id: int) -> int | None:
        """The channel a thread is in; None if the thread is gone."""
        ...

    async def edit_message(self, channel_id: int, message_id: int, content: str) -> None:
        """Replace the text of a message of the bot's; Gone if it no longer exists."""
        ...

    async def post_card(self, thread_id: int, content: str) -> int:
        """Post a status card into a thread (pinned if the bot may); Gone if the thread is."""
        ...

    async def apply_tags(self, forum_id: int, thread_id: int, wanted: Sequence[str]) -> tuple[int, ...] | None:
        """Give a forum post the managed tags ``wanted``; its tags after, None if no forum post."""
        ...

    async def post_board(self, channel_id: int, content: str, post_name: str) -> tuple[int, int]:
        """Post a board in an issue channel: (the channel or forum post it is in, its message id)."""
        ...
