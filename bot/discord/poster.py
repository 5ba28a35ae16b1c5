"""The notifier's Discord side, on the real discord.py client.

An issue channel is a text channel (each issue a public thread, its status card the thread's first
message, pinned) or a forum (each issue a post whose starter message is the card, its tags
following the state: ``forum_tags``). What the bot may not do (pin, create tags) is said once in
the log and skipped; what Discord refuses is ``MessageRefused``; what no longer exists is ``Gone``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Final

import discord

from commands.panels import panel_view

from .forum_tags import ForumTags
from .ports import Gone, MessageRefused, NewThread, OpenedThread
from .rendering import Post

log = logging.getLogger(__name__)

AUTO_ARCHIVE_MINUTES: Final = 10080  # a week: issue threads stay open while work goes on
THREAD_ARCHIVED: Final = 50083  # Discord's error code for editing in an archived thread
IssueChannel = discord.TextChannel | discord.ForumChannel
_NO_MENTIONS = discord.AllowedMentions.none()


class DiscordPoster:
    def __init__(self, client: discord.Client, gate_role_id: int | None,
                 escalation_role_id: int | None = None,
                 posted: Callable[[str], None] = lambda target: None) -> None:
        """``posted``: told of each message Discord accepted, with its target (``thread`` or
        ``channel``), for the metrics."""
        self._client = client
        self._posted = posted
        self._role = discord.Object(gate_role_id) if gate_role_id else None
        self._escalation = discord.Object(escalation_role_id) if escalation_role_id else None
        self._tags = ForumTags()
        self._said: set[tuple[str, int]] = set()  # (what, channel) already logged as not permitted

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

    async def _issue_channel(self, channel_id: int) -> IssueChannel:
        # A channel the bot cannot use (a wrong route, a lost permission) holds up only what goes
        # there: a refusal, parked and tried again like any other, never a stop of all delivery.
        with _refusals():
            channel = await self._channel(channel_id)
        if not isinstance(channel, (discord.TextChannel, discord.ForumChannel)):
            raise MessageRefused(f"channel {channel_id} is not a text or forum channel the bot can see")
        return channel

    async def is_forum(self, channel_id: int) -> bool:
        return isinstance(await self._channel(channel_id), discord.ForumChannel)

    async def open_thread(self, thread_id: int | None, new: NewThread) -> OpenedThread:
        if thread_id is not None:
            thread = await self._channel(thread_id)
            if isinstance(thread, discord.Thread):
                if thread.archived:
                    with _refusals():
                        await thread.edit(archived=False)
                return OpenedThread(thread.id)
            log.warning("thread %s is gone; opening a new one", thread_id)
        parent = await self._issue_channel(await new.channel())
        name = await new.name()
        card, wanted = await new.card()
        if isinstance(parent, discord.ForumChannel):
            tags = await self._tags.resolve(parent, wanted, self._say)
            with _refusals():  # AutoMod on the name, the guild's active-thread limit, a required tag, a lost permission
                made = await parent.create_thread(name=name, content=card, applied_tags=tags,
                                                  auto_archive_duration=AUTO_ARCHIVE_MINUTES,
                                                  allowed_mentions=_NO_MENTIONS)
            return OpenedThread(made.thread.id, parent.id, made.message.id, card, tuple(t.id for t in tags))
        with _refusals():
            thread = await parent.create_thread(name=name, type=discord.ChannelType.public_thread,
                                                auto_archive_duration=AUTO_ARCHIVE_MINUTES)
        try:  # the card first, so that opening the thread shows it at the top
            card_id = await self.post_card(thread.id, card)
        except MessageRefused as exc:  # the thread is there; the card keeper posts the card later
            log.warning("Discord refused the status card of new thread %s (%s)", thread.id, exc)
            return OpenedThread(thread.id, parent.id)
        return OpenedThread(thread.id, parent.id, card_id, card)

    def _mentions(self, post: Post) -> discord.AllowedMentions:
        # Exactly the roles the message means to ping: nothing else it holds can ping anyone.
        roles = [self._role] if post.mentions_role and self._role is not None else []
        if post.mentions_escalation and self._escalation is not None:
            roles.append(self._escalation)
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

    async def send_to_channel(self, channel_id: int, post: Post) -> int:
        with _refusals():
            channel = await self._channel(channel_id)
        if not isinstance(channel, (discord.TextChannel, discord.Thread)):
            raise MessageRefused(f"channel {channel_id} is not a text channel or thread the bot can see")
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

    # -- messages kept in place: status cards and boards ----------------------------------------

    async def parent_of(self, thread_id: int) -> int | None:
        """The channel a thread is in, or None if the thread is gone."""
        thread = await self._channel(thread_id)
        return thread.parent_id if isinstance(thread, discord.Thread) else None

    async def edit_message(self, channel_id: int, message_id: int, content: str) -> None:
        """Replace a message's text (Gone if it or its channel no longer exists). A message in an
        archived thread is edited after reopening the thread."""
        message = self._client.get_partial_messageable(channel_id).get_partial_message(message_id)
        with _refusals(), _gone():
            try:
                await message.edit(content=content, allowed_mentions=_NO_MENTIONS)
            except discord.HTTPException as exc:
                if exc.code != THREAD_ARCHIVED:
                    raise
                thread = await self._channel(channel_id)
                if not isinstance(thread, discord.Thread):
                    raise
                await thread.edit(archived=False)
                await message.edit(content=content, allowed_mentions=_NO_MENTIONS)

    async def post_card(self, thread_id: int, content: str) -> int:
        """Post a status card into an existing thread and pin it (if the bot may); its id."""
        thread = await self._channel(thread_id)
        if not isinstance(thread, discord.Thread):
            raise Gone(f"thread {thread_id}")
        with _refusals():
            message = await thread.send(content, allowed_mentions=_NO_MENTIONS)
        await self._pin(message, thread.parent_id or thread_id)
        return message.id

    async def _pin(self, message: discord.Message, channel_id: int) -> None:
        try:
            await message.pin()
        except discord.Forbidden:
            self._say("pin", channel_id, f"the bot may not pin messages in channel {channel_id} (it lacks Pin "
                                         "Messages); status cards and boards there stay unpinned")
        except discord.HTTPException as exc:  # the pin limit, say: the message itself is there
            log.warning("could not pin message %s in %s: %s", message.id, channel_id, exc)

    async def apply_tags(self, forum_id: int, thread_id: int, wanted: Sequence[str]) -> tuple[int, ...] | None:
        """Give a forum post the managed tags ``wanted`` (keeping the tags people applied); the
        post's tags afterwards, or None if the channel is no forum or the post is gone."""
        forum = await self._channel(forum_id)
        if not isinstance(forum, discord.ForumChannel):
            return None
        thread = await self._channel(thread_id)
        if not isinstance(thread, discord.Thread):
            return None
        tags = await self._tags.for_post(forum, [t.id for t in thread.applied_tags], wanted, self._say)
        if [t.id for t in tags] == [t.id for t in thread.applied_tags]:
            return tuple(t.id for t in tags)
        with _refusals(), _gone():
            if thread.archived:  # a post's tags can be changed only while it is open
                await thread.edit(archived=False, applied_tags=tags)
            else:
                await thread.edit(applied_tags=tags)
        return tuple(t.id for t in tags)

    async def post_board(self, channel_id: int, content: str, post_name: str) -> tuple[int, int]:
        """A board in an issue channel: pinned in a text channel, a pinned post of its own in a
        forum; (where it is: the channel or the post, its message id)."""
        channel = await self._issue_channel(channel_id)
        if isinstance(channel, discord.ForumChannel):
            with _refusals():
                made = await channel.create_thread(name=post_name, content=content, allowed_mentions=_NO_MENTIONS,
                                                   auto_archive_duration=AUTO_ARCHIVE_MINUTES)
            try:  # pinned to the top of the forum, where it also never auto-archives
                await made.thread.edit(pinned=True)
            except discord.Forbidden:
                self._say("pin-post", channel_id, f"the bot may not pin the board's post in forum {channel_id} (it "
                                                  "lacks Manage Threads); the board stays an ordinary post")
            return made.thread.id, made.message.id
        with _refusals():
            message = await channel.send(content, allowed_mentions=_NO_MENTIONS)
        await self._pin(message, channel_id)
        return channel_id, message.id

    def _say(self, what: str, channel_id: int, line: str) -> None:
        """Log ``line`` once per process for each thing the bot may not do in a channel."""
        if (what, channel_id) not in self._said:
            self._said.add((what, channel_id))
            log.warning("%s", line)


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


@contextlib.contextmanager
def _gone() -> Iterator[None]:
    try:
        yield
    except discord.NotFound as exc:
        raise Gone(str(exc)) from exc
