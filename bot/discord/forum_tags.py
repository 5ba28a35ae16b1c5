"""A forum's tags for the states of its issue posts, on the real discord.py client.

The forum's own tags are used, matched by name (``status_card.tag_key``). The managed tags it lacks
are created, all in one edit and once per process, when the bot may (Manage Channels) and the
forum has room (20 tags at most); otherwise one log line says so and the posts carry the tags that
exist: a missing permission is never a failure.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import discord

from .status_card import MANAGED_TAGS, applied_tags, tag_key

log = logging.getLogger(__name__)

FORUM_TAG_LIMIT = 20
Say = Callable[[str, int, str], None]  # (what, channel id, the log line): said once per process


class ForumTags:
    def __init__(self) -> None:
        self._tried: set[int] = set()  # forums whose missing tags were asked for already

    async def _available(self, forum: discord.ForumChannel, say: Say) -> dict[str, discord.ForumTag]:
        available = {tag_key(t.name): t for t in forum.available_tags}
        missing = [name for name in MANAGED_TAGS if tag_key(name) not in available]
        if not missing or forum.id in self._tried:
            return available
        self._tried.add(forum.id)
        me = forum.guild.me
        if me is None or not forum.permissions_for(me).manage_channels:
            say("tags", forum.id, f"forum {forum.id} has no tag{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
                                  "and the bot may not create them (it lacks Manage Channels); its posts carry "
                                  "the tags it has")
            return available
        room = FORUM_TAG_LIMIT - len(forum.available_tags)
        if room < len(missing):
            say("tag-room", forum.id, f"forum {forum.id} has room for {max(room, 0)} more tags of {len(missing)} missing "
                                      f"({', '.join(missing)}); the others are not created")
        if room <= 0:
            return available
        try:
            edited = await forum.edit(available_tags=[*forum.available_tags,
                                                      *(discord.ForumTag(name=n) for n in missing[:room])])
        except discord.HTTPException as exc:  # refused (a lost permission, say): the tags that exist
            say("tags", forum.id, f"Discord refused creating tags in forum {forum.id} ({exc.status} {exc.text}); its posts "
                                  "carry the tags it has")
            return available
        log.info("created the forum tags %s in forum %s", ", ".join(missing[:room]), forum.id)
        return {tag_key(t.name): t for t in (edited or forum).available_tags}

    async def resolve(self, forum: discord.ForumChannel, wanted: Sequence[str], say: Say) -> list[discord.ForumTag]:
        """The forum's tags named ``wanted`` (those it has, or could be given)."""
        return await self.for_post(forum, [], wanted, say)

    async def for_post(self, forum: discord.ForumChannel, current: Sequence[int], wanted: Sequence[str],
                       say: Say) -> list[discord.ForumTag]:
        """The tags a post carrying ``current`` should carry with ``wanted`` (see ``applied_tags``)."""
        available = await self._available(forum, say)
        by_id = {t.id: t for t in forum.available_tags} | {t.id: t for t in available.values()}
        ids = applied_tags(current, {key: t.id for key, t in available.items()}, wanted)
        return [by_id[i] for i in ids if i in by_id]
