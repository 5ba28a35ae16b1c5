"""Builders for Discord JSON objects, complete enough for discord.py 2.7.

Every key that discord.py reads with ``data[...]`` (rather than ``.get``) must
be present: a KeyError inside a gateway event parser ends ``bot.start()``
without a reconnect, so a gap here shows up as a dead bot, not a test failure.
Ids are strings and permissions decimal strings, as on the real wire.
"""

from __future__ import annotations

from typing import Any

from .models import FakeMember, FakeRole
from .snowflake import iso_from_snowflake

JSON = dict[str, Any]

# Channel types.
GUILD_TEXT = 0
PUBLIC_THREAD = 11
PRIVATE_THREAD = 12
THREAD_TYPES = (10, PUBLIC_THREAD, PRIVATE_THREAD)

# Message flags.
FLAG_HAS_THREAD = 1 << 5
FLAG_EPHEMERAL = 1 << 6
FLAG_LOADING = 1 << 7

# Message types.
MESSAGE_DEFAULT = 0
MESSAGE_REPLY = 19
MESSAGE_CHAT_INPUT_COMMAND = 20

# discord.py reads this key from every interaction (Interaction.filesize_limit).
ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024


def user_json(member: FakeMember) -> JSON:
    assert member.id is not None
    return {
        "id": member.id,
        "username": member.username,
        "discriminator": "0",
        "global_name": member.global_name,
        "avatar": None,
        "avatar_decoration_data": None,
        "banner": None,
        "accent_color": None,
        "public_flags": 0,
        "flags": 0,
        "bot": member.bot,
        "system": False,
        "primary_guild": None,
    }


def member_json(member: FakeMember, joined_at: str, permissions: int | None = None) -> JSON:
    """Guild member. ``permissions`` is only sent inside interactions."""
    data: JSON = {
        "user": user_json(member),
        "roles": list(member.roles),
        "nick": member.nick,
        "avatar": None,
        "banner": None,
        "joined_at": joined_at,
        "premium_since": None,
        "deaf": False,
        "mute": False,
        "flags": 0,  # required: Member.__init__ reads data['flags']
        "pending": False,
        "communication_disabled_until": None,
    }
    if permissions is not None:
        data["permissions"] = str(permissions)
    return data


def role_json(role: FakeRole) -> JSON:
    data: JSON = {
        "id": role.id,
        "name": role.name,
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
        "hoist": False,
        "icon": None,
        "unicode_emoji": None,
        "position": role.position,
        "permissions": str(role.permissions),
        "managed": role.managed,
        "mentionable": False,
        "flags": 0,
    }
    if role.bot_id is not None:
        data["tags"] = {"bot_id": role.bot_id}
    return data


def text_channel_json(channel_id: str, guild_id: str, name: str, position: int = 0) -> JSON:
    return {
        "id": channel_id,
        "guild_id": guild_id,
        "type": GUILD_TEXT,
        "name": name,
        "position": position,
        "parent_id": None,
        "topic": None,
        "nsfw": False,
        "permission_overwrites": [],
        "rate_limit_per_user": 0,
        "last_message_id": None,
        "default_auto_archive_duration": 1440,
        "flags": 0,
    }


def thread_json(
    *,
    thread_id: str,
    guild_id: str,
    parent_id: str,
    owner_id: str,
    name: str,
    thread_type: int,
    auto_archive_duration: int,
    created_at: str,
) -> JSON:
    return {
        "id": thread_id,
        "guild_id": guild_id,
        "parent_id": parent_id,
        "owner_id": owner_id,
        "name": name,
        "type": thread_type,
        "last_message_id": None,
        "message_count": 0,
        "member_count": 1,
        "total_message_sent": 0,
        "rate_limit_per_user": 0,
        "flags": 0,
        "applied_tags": [],
        "thread_metadata": {
            "archived": False,
            "auto_archive_duration": auto_archive_duration,
            "archive_timestamp": created_at,
            "locked": False,
            "invitable": thread_type == PRIVATE_THREAD,
            "create_timestamp": created_at,
        },
    }


def thread_member_json(thread_id: str, user_id: str, joined_at: str) -> JSON:
    return {"id": thread_id, "user_id": user_id, "join_timestamp": joined_at, "flags": 0}


def message_json(
    *,
    message_id: str,
    channel_id: str,
    author: JSON,
    body: JSON,
    message_type: int = MESSAGE_DEFAULT,
    extra: JSON | None = None,
) -> JSON:
    """A message built from what the bot sent (``body``), echoed back as Discord would."""
    data: JSON = {
        "id": message_id,
        "channel_id": channel_id,
        "type": message_type,
        "content": body.get("content") or "",
        "author": author,
        "timestamp": iso_from_snowflake(message_id),
        "edited_timestamp": None,
        "tts": bool(body.get("tts", False)),
        "mention_everyone": False,
        "mentions": [],
        "mention_roles": [],
        "mention_channels": [],
        "attachments": body.get("attachments") or [],
        "embeds": body.get("embeds") or [],
        "components": body.get("components") or [],
        "reactions": [],
        "pinned": False,
        "flags": int(body.get("flags") or 0),
        "sticker_items": [],
    }
    if body.get("nonce") is not None:
        data["nonce"] = body["nonce"]
    if body.get("message_reference"):
        data["message_reference"] = body["message_reference"]
        data["type"] = MESSAGE_REPLY
    if extra:
        data.update(extra)
    return data


def guild_create_json(
    *,
    guild_id: str,
    name: str,
    owner_id: str,
    joined_at: str,
    roles: list[JSON],
    members: list[JSON],
    channels: list[JSON],
    threads: list[JSON],
) -> JSON:
    return {
        "id": guild_id,
        "name": name,
        "icon": None,
        "splash": None,
        "discovery_splash": None,
        "banner": None,
        "description": None,
        "owner_id": owner_id,
        "unavailable": False,
        "large": False,
        "lazy": True,
        "joined_at": joined_at,
        # member_count == len(members) stops discord.py from chunking the guild
        # (op 8 + a 5 s wait when the members intent is on).
        "member_count": len(members),
        "members": members,
        "channels": channels,
        "threads": threads,
        "roles": roles,
        "emojis": [],
        "stickers": [],
        "features": [],
        "presences": [],
        "voice_states": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "mfa_level": 0,
        "nsfw_level": 0,
        "nsfw": False,
        "premium_tier": 0,
        "premium_subscription_count": 0,
        "premium_progress_bar_enabled": False,
        "preferred_locale": "en-US",
        "afk_channel_id": None,
        "afk_timeout": 300,
        "system_channel_id": None,
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "public_updates_channel_id": None,
        "safety_alerts_channel_id": None,
        "vanity_url_code": None,
        "application_id": None,
        "max_members": 500000,
        "max_video_channel_users": 25,
        "max_stage_video_channel_users": 50,
        "incidents_data": None,
    }


def ready_json(*, user: JSON, session_id: str, resume_url: str, guild_id: str, application_id: str) -> JSON:
    return {
        "v": 10,
        "user": user,
        "session_id": session_id,
        "session_type": "normal",
        # Required: discord.py RESUMEs to this URL, so it must point at the fake.
        "resume_gateway_url": resume_url,
        "guilds": [{"id": guild_id, "unavailable": True}],
        "private_channels": [],
        "relationships": [],
        "user_settings": {},
        "presences": [],
        "geo_ordered_rtc_regions": [],
        "guild_join_requests": [],
        # Only read by AutoShardedClient (which requires it); harmless otherwise.
        "shard": [0, 1],
        "application": {"id": application_id, "flags": 0},
        "_trace": ["fake-discord"],
    }


def application_json(*, application_id: str, name: str, owner: JSON, bot: JSON) -> JSON:
    return {
        "id": application_id,
        "name": name,
        "icon": None,
        "description": "Fake application for tests",
        "summary": "",
        "type": None,
        "bot_public": False,
        "bot_require_code_grant": False,
        "verify_key": "0" * 64,
        "flags": 0,
        "owner": owner,
        "team": None,
        "bot": bot,
        "interactions_endpoint_url": None,
        "redirect_uris": [],
        "tags": [],
        "approximate_guild_count": 1,
    }
