"""The fake guild's data and the mutations REST calls make to it (no I/O here)."""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from . import forums, payloads
from .models import FakeMember, FakeRole, resolve_permissions
from .payloads import JSON
from .snowflake import SnowflakeFactory, iso_now

# Keys a message PATCH may change. discord.py's edit sends content, flags and
# tts (and more when given); only keys present in the body are applied, or an
# edit of the content alone would wipe the buttons.
EDITABLE_MESSAGE_KEYS = ("content", "embeds", "components", "flags", "attachments", "tts", "poll")
EDITABLE_THREAD_KEYS = ("name", "rate_limit_per_user", "flags", "applied_tags")
EDITABLE_THREAD_METADATA_KEYS = ("archived", "locked", "invitable", "auto_archive_duration")
EDITABLE_CHANNEL_KEYS = ("name", "topic", "position", "nsfw", "rate_limit_per_user", "default_auto_archive_duration",
                         "flags")


class GuildState:
    """One guild: roles, members, one or more text channels, threads, messages."""

    def __init__(
        self,
        *,
        ids: SnowflakeFactory,
        guild_id: str,
        guild_name: str,
        owner_id: str,
        channels: Iterable[tuple[str, str]],
        bot: FakeMember,
        bot_permissions: int,
        everyone_permissions: int,
        roles: Iterable[FakeRole],
        members: Iterable[FakeMember],
        forum_channels: Iterable[tuple[str, str, Iterable[str]]] = (),
    ) -> None:
        self.ids = ids
        self.guild_id = guild_id
        self.guild_name = guild_name
        self.owner_id = owner_id
        self.joined_at = iso_now()
        self.bot = bot

        # @everyone's id is the guild id; discord.py relies on that.
        self.roles: dict[str, FakeRole] = {
            guild_id: FakeRole(name="@everyone", permissions=everyone_permissions, id=guild_id, position=0)
        }
        # Copies: the caller's objects stay reusable for another fake (ids and
        # role references are filled in here).
        for role in map(copy.copy, roles):
            role.id = role.id or ids.next()
            self.roles[role.id] = role
        bot_role = FakeRole(
            name=bot.username,
            permissions=bot_permissions,
            id=ids.next(),
            position=len(self.roles),
            managed=True,
            bot_id=bot.id,
        )
        self.roles[bot_role.id] = bot_role  # type: ignore[index]
        bot.roles = [bot_role.id]  # type: ignore[list-item]

        self.members: dict[str, FakeMember] = {}
        for member in [bot, *map(copy.copy, members)]:
            member.id = member.id or ids.next()
            member.roles = [self._role_id(ref) for ref in member.roles]
            self.members[member.id] = member

        self.channels: dict[str, JSON] = {}
        for position, (channel_id, name) in enumerate(channels):
            self.channels[channel_id] = payloads.text_channel_json(channel_id, guild_id, name, position)
        for channel_id, name, tag_names in forum_channels:  # (id, name, the names of its existing tags)
            tags = [forums.tag_json(ids.next(), tag) for tag in tag_names]
            self.channels[channel_id] = forums.forum_channel_json(channel_id, guild_id, name, len(self.channels), tags)

        self.threads: dict[str, JSON] = {}
        # Per channel (text channel or thread), in creation order.
        self.messages: defaultdict[str, list[JSON]] = defaultdict(list)
        self._messages_by_id: dict[str, JSON] = {}

    # -- lookups ---------------------------------------------------------------

    def _role_id(self, ref: str) -> str:
        if ref in self.roles:
            return ref
        for role in self.roles.values():
            if role.name == ref:
                assert role.id is not None
                return role.id
        raise ValueError(f"unknown role {ref!r}; roles: {[r.name for r in self.roles.values()]}")

    def role(self, name_or_id: str) -> FakeRole:
        return self.roles[self._role_id(name_or_id)]

    def member(self, name_or_id: str) -> FakeMember:
        if name_or_id in self.members:
            return self.members[name_or_id]
        for member in self.members.values():
            if member.username == name_or_id:
                return member
        raise KeyError(f"unknown member {name_or_id!r}; members: {[m.username for m in self.members.values()]}")

    def permissions_of(self, member: FakeMember) -> int:
        everyone = self.roles[self.guild_id].permissions
        return resolve_permissions(everyone, [self.roles[r].permissions for r in member.roles])

    def member_payload(self, member: FakeMember, *, with_permissions: bool = False) -> JSON:
        perms = self.permissions_of(member) if with_permissions else None
        return payloads.member_json(member, self.joined_at, perms)

    def user_payload(self, member: FakeMember) -> JSON:
        return payloads.user_json(member)

    def channel(self, channel_id: str) -> JSON | None:
        """A text channel or a thread (the stored dict itself)."""
        return self.channels.get(channel_id) or self.threads.get(channel_id)

    def message(self, message_id: str) -> JSON | None:
        return self._messages_by_id.get(message_id)

    def guild_create(self) -> JSON:
        active = [copy.deepcopy(t) for t in self.threads.values() if not t["thread_metadata"]["archived"]]
        return payloads.guild_create_json(
            guild_id=self.guild_id,
            name=self.guild_name,
            owner_id=self.owner_id,
            joined_at=self.joined_at,
            roles=[payloads.role_json(r) for r in self.roles.values()],
            members=[self.member_payload(m) for m in self.members.values()],
            channels=[copy.deepcopy(c) for c in self.channels.values()],
            threads=active,
        )

    # -- mutations ---------------------------------------------------------------

    def add_message(
        self,
        channel_id: str,
        body: JSON,
        *,
        author: FakeMember | None = None,
        message_type: int = payloads.MESSAGE_DEFAULT,
        extra: JSON | None = None,
        message_id: str | None = None,
    ) -> JSON:
        message_id = message_id or self.ids.next()
        data = payloads.message_json(
            message_id=message_id,
            channel_id=channel_id,
            author=payloads.user_json(author or self.bot),
            body=body,
            message_type=message_type,
            extra=extra,
        )
        self.messages[channel_id].append(data)
        self._messages_by_id[message_id] = data
        channel = self.channel(channel_id)
        if channel is not None:
            channel["last_message_id"] = message_id
            if channel_id in self.threads:
                channel["message_count"] += 1
                channel["total_message_sent"] += 1
        return data

    def edit_message(self, message: JSON, body: JSON) -> JSON:
        for key in EDITABLE_MESSAGE_KEYS:
            if key not in body:
                continue
            value = body[key]
            if key == "flags":
                # The sender cannot clear HAS_THREAD or EPHEMERAL; an edit ends LOADING.
                sticky = message["flags"] & (payloads.FLAG_HAS_THREAD | payloads.FLAG_EPHEMERAL)
                value = (int(value or 0) & ~payloads.FLAG_LOADING) | sticky
            elif key == "content":
                value = value or ""
            elif key == "attachments":
                value = self._kept_attachments(message, value or [])
            elif value is None and key in ("embeds", "components"):
                value = []
            message[key] = value
        message["flags"] &= ~payloads.FLAG_LOADING
        message["edited_timestamp"] = iso_now()
        return message

    @staticmethod
    def _kept_attachments(message: JSON, wanted: list[JSON]) -> list[JSON]:
        """An edit lists the attachments to keep by id ({"id": ...}); new uploads come complete."""
        existing = {str(a["id"]): a for a in message.get("attachments") or []}
        kept = [existing[str(a["id"])] for a in wanted if str(a.get("id")) in existing]
        return kept + [a for a in wanted if "url" in a and str(a["id"]) not in existing]

    def delete_message(self, message_id: str) -> JSON | None:
        message = self._messages_by_id.pop(message_id, None)
        if message is not None:
            self.messages[message["channel_id"]].remove(message)
        return message

    def create_thread(
        self,
        *,
        parent_id: str,
        name: str,
        thread_type: int,
        auto_archive_duration: int,
        owner_id: str,
        starter_message: JSON | None = None,
        thread_id: str | None = None,
    ) -> JSON:
        # Real Discord gives a thread started from a message that message's id.
        thread_id = starter_message["id"] if starter_message else thread_id or self.ids.next()
        thread = payloads.thread_json(
            thread_id=thread_id,
            guild_id=self.guild_id,
            parent_id=parent_id,
            owner_id=owner_id,
            name=name,
            thread_type=thread_type,
            auto_archive_duration=auto_archive_duration,
            created_at=iso_now(),
        )
        self.threads[thread_id] = thread
        if starter_message is not None:
            starter_message["flags"] |= payloads.FLAG_HAS_THREAD
            starter_message["thread"] = thread
        return thread

    def edit_channel(self, channel: JSON, body: JSON) -> JSON:
        if channel["id"] in self.threads:
            for key in EDITABLE_THREAD_KEYS:
                if key in body:
                    channel[key] = body[key]
            metadata = channel["thread_metadata"]
            for key in EDITABLE_THREAD_METADATA_KEYS:
                if key in body:
                    if key == "archived" and bool(body[key]) != metadata["archived"]:
                        metadata["archive_timestamp"] = iso_now()
                    metadata[key] = body[key]
        else:
            for key in EDITABLE_CHANNEL_KEYS:
                if key in body:
                    channel[key] = body[key]
            if "available_tags" in body and forums.is_forum(channel):
                forums.set_available_tags(self, channel, list(body["available_tags"] or []))
                applied = {t["id"] for t in channel["available_tags"]}
                for thread in self.threads.values():  # a deleted tag leaves the posts it was on
                    if thread["parent_id"] == channel["id"]:
                        thread["applied_tags"] = [t for t in thread["applied_tags"] if t in applied]
        return channel

    def set_archived(self, thread_id: str, archived: bool, *, locked: bool | None = None) -> JSON:
        body: dict[str, Any] = {"archived": archived}
        if locked is not None:
            body["locked"] = locked
        return self.edit_channel(self.threads[thread_id], body)
