"""The notifier's Discord side, on the real discord.py client."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import Final

import discord

from commands.panels import panel_view

from .notifier import MessageRefused
from .rendering import Post

log = logging.getLogger(__name__)

AUTO_ARCHIVE_MINUTES: Final = 10080  # a week: issue threads stay open while work goes on


class DiscordPoster:
    def __init__(self, client: discord.Client, channel_id: int, gate_role_id: int | None,
                 posted: Callable[[str], None] = lambda target: None) -> None:
        """``posted``: told of each message Discord accepted, with its target (``thread`` or
        ``channel``), for the metrics."""
        self._client = client
        self._posted = posted
        self._channel_id = channel_id
        self._role = discord.Object(gate_role_id) if gate_role_id else None

    async def ready(self) -> None:
        # Asked again every second: a client that is reset to reconnect (bot.runtime) gets a new
        # readiness event, which a single wait_until_ready() on the old one would never see.
        while not self._client.is_ready():
            with contextlib.suppress(asyncio.TimeoutError, RuntimeError):
                await asyncio.wait_for(self._client.wait_until_ready(), 1.0)

    async def _channel(self, channel_id: int) -> discord.abc.GuildChannel | discord.Thread | None:
        channel = self._client.get_channel(channel_id)
        if channel is not None:
            return channel  # type: ignore[return-value]
        try:
            return await self._client.fetch_channel(channel_id)  # type: ignore[return-value]
        except discord.NotFound:
            return None

    async def open_thread(self, thread_id: int | None, name: Callable[[], Awaitable[str]]) -> int:
        if thread_id is not None:
            thread = await self._channel(thread_id)
            if isinstance(thread, discord.Thread):
                if thread.archived:
                    with _refusals():
                        await thread.edit(archived=False)
                return thread.id
            log.warning("thread %s is gone; opening a new one", thread_id)
        parent = await self._channel(self._channel_id)
        if not isinstance(parent, discord.TextChannel):
            raise RuntimeError(f"DISCORD_CHANNEL_ID {self._channel_id} is not a text channel the bot can see")
        with _refusals():  # AutoMod on the name, the guild's active-thread limit, a lost permission
            thread = await parent.create_thread(name=await name(), type=discord.ChannelType.public_thread,
                                                auto_archive_duration=AUTO_ARCHIVE_MINUTES)
        return thread.id

    def _mentions(self, post: Post) -> discord.AllowedMentions:
        roles = [self._role] if post.mentions_role and self._role is not None else []
        return discord.AllowedMentions(everyone=False, users=False, roles=roles)

    async def send(self, thread_id: int, post: Post, stream_id: str) -> int:
        thread = await self._channel(thread_id)
        if not isinstance(thread, discord.Thread):
            raise RuntimeError(f"thread {thread_id} for {stream_id} is not available")
        view = panel_view(post.panel, stream_id)
        with _refusals():
            if view is not None:
                message = await thread.send(post.content, view=view, allowed_mentions=self._mentions(post))
            else:
                message = await thread.send(post.content, allowed_mentions=self._mentions(post))
        self._posted("thread")
        return message.id

    async def send_to_channel(self, post: Post) -> int:
        channel = await self._channel(self._channel_id)
        if not isinstance(channel, discord.TextChannel):
            raise RuntimeError(f"DISCORD_CHANNEL_ID {self._channel_id} is not a text channel the bot can see")
        with _refusals():
            message = await channel.send(post.content, allowed_mentions=self._mentions(post))
        self._posted("channel")
        return message.id

    async def close_panel(self, channel_id: int, message_id: int, panel: str, stream_id: str, note: str) -> None:
        channel = await self._channel(channel_id)
        if not isinstance(channel, (discord.Thread, discord.TextChannel)):
            return
        try:
            message = await channel.fetch_message(message_id)
        except discord.NotFound:
            return  # deleted by someone: nothing to close
        content = message.content if note in message.content else f"{message.content}\n**{note}**"
        try:
            with _refusals():
                await message.edit(content=content, view=panel_view(panel, stream_id, disabled=True),
                                   allowed_mentions=discord.AllowedMentions.none())
        except MessageRefused as exc:  # the buttons stay, but the decision is recorded and enforced anyway
            log.error("Discord refused closing the %s panel of %s (%s); left as it is", panel, stream_id, exc)


@contextlib.contextmanager
def _refusals() -> Iterator[None]:
    """Turn Discord's refusals of a message or thread into MessageRefused. Not 404 (the thread went
    away: the retry opens a new one) and not 429 (rate limited: worth waiting for); 5xx and network
    errors pass through too, and the notifier retries them."""
    try:
        yield
    except discord.HTTPException as exc:
        if 400 <= exc.status < 500 and exc.status not in (404, 429):
            raise MessageRefused(f"{exc.status} {exc.text or exc}") from exc
        raise
