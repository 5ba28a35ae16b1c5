"""Forum channels, their tags, forum posts, channel edits' permission checks, and pins.

As Discord documents them (channel.mdx, message.mdx in discord-api-docs):
- a forum channel (type 15) holds only threads ("posts"); ``POST /channels/{forum}/threads``
  with a ``message`` creates the post and its starter message, whose id is the thread's id, and
  answers the thread with the message nested;
- ``available_tags`` (at most 20; a tag's name 0-20 characters) is changed by ``PATCH
  /channels/{forum}``, which needs Manage Channels; a tag sent without an id is a new tag and
  gets one;
- a post's ``applied_tags`` (at most 5, each one of its forum's tags) and its ``flags`` (PINNED
  pins it to the top of the forum, which needs Manage Threads) are set by ``PATCH
  /channels/{thread}``;
- nothing can be posted in the forum itself, and a message of an archived thread cannot be edited;
- ``PUT /channels/{id}/messages/pins/{message}`` pins (Pin Messages, or Manage Messages as
  before), adds a "pinned a message" system message and sends CHANNEL_PINS_UPDATE.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import events, payloads
from .models import MANAGE_CHANNELS, MANAGE_MESSAGES, MANAGE_THREADS, PIN_MESSAGES
from .payloads import JSON
from .snowflake import iso_now
from .wire import API_PREFIX, body_of, discord_error, fake_of, json_response, no_content

if TYPE_CHECKING:
    from .state import GuildState

GUILD_FORUM = 15
FORUM_TAG_LIMIT = 20
POST_TAG_LIMIT = 5
TAG_NAME_LIMIT = 20
CHANNEL_PINNED_MESSAGE = 6  # message type of "… pinned a message to this channel"
PINNED = 1 << 1  # channel flag: a post pinned to the top of its forum

routes = web.RouteTableDef()


def tag_json(tag_id: str, name: str, *, moderated: bool = False) -> JSON:
    return {"id": tag_id, "name": name, "moderated": moderated, "emoji_id": None, "emoji_name": None}


def forum_channel_json(channel_id: str, guild_id: str, name: str, position: int, tags: list[JSON]) -> JSON:
    return {
        **payloads.text_channel_json(channel_id, guild_id, name, position),
        "type": GUILD_FORUM,
        "available_tags": tags,
        "default_reaction_emoji": None,
        "default_sort_order": None,
        "default_forum_layout": 0,
        "default_thread_rate_limit_per_user": 0,
    }


def is_forum(channel: JSON | None) -> bool:
    return channel is not None and channel.get("type") == GUILD_FORUM


def _missing_permissions() -> web.Response:
    return discord_error(403, 50013, "Missing Permissions")


def _invalid(message: str) -> web.Response:
    return discord_error(400, 50035, f"Invalid Form Body ({message})")


def refuse_channel_edit(state: GuildState, channel: JSON, body: JSON) -> web.Response | None:
    """Discord's answer to a PATCH it refuses, or None: the edit may be applied."""
    bot = state.permissions_of(state.bot)
    if channel["id"] in state.threads:
        if ("flags" in body or "locked" in body) and not bot & MANAGE_THREADS:
            return _missing_permissions()
        if "applied_tags" in body:
            parent = state.channels.get(channel["parent_id"])
            known = {t["id"] for t in (parent or {}).get("available_tags", [])}
            wanted = [str(t) for t in body["applied_tags"] or []]
            if not is_forum(parent) or len(wanted) > POST_TAG_LIMIT or not set(wanted) <= known:
                return _invalid("applied_tags")
        return None
    if not bot & MANAGE_CHANNELS:
        return _missing_permissions()
    if "available_tags" in body:
        tags = body["available_tags"] or []
        if not is_forum(channel) or len(tags) > FORUM_TAG_LIMIT or any(
                len(str(t.get("name") or "")) > TAG_NAME_LIMIT for t in tags):
            return _invalid("available_tags")
    return None


def set_available_tags(state: GuildState, forum: JSON, tags: list[JSON]) -> None:
    """The forum's tags become ``tags``: those with an id keep it, new ones get one."""
    forum["available_tags"] = [
        tag_json(str(t["id"]) if t.get("id") else state.ids.next(), str(t.get("name") or ""),
                 moderated=bool(t.get("moderated")))
        for t in tags
    ]


async def create_post(request: web.Request, forum: JSON) -> web.Response:
    """``POST /channels/{forum}/threads``: a post with its starter message."""
    fake = fake_of(request)
    state = fake.state
    body = dict(body_of(request) or {})
    message_body = dict(body.get("message") or {})
    if not any(message_body.get(k) for k in ("content", "embeds", "components", "sticker_ids")):
        return _invalid("message: a forum post needs a starter message")
    tags = [str(t) for t in body.get("applied_tags") or []]
    if len(tags) > POST_TAG_LIMIT or not set(tags) <= {t["id"] for t in forum["available_tags"]}:
        return _invalid("applied_tags")
    thread_id = state.ids.next()
    thread = state.create_thread(
        parent_id=forum["id"],
        name=str(body.get("name", "post")),
        thread_type=payloads.PUBLIC_THREAD,
        auto_archive_duration=int(body.get("auto_archive_duration") or 4320),
        owner_id=state.bot.id,  # type: ignore[arg-type]
        thread_id=thread_id,
    )
    thread["applied_tags"] = tags
    message_body["attachments"] = []
    message = state.add_message(thread_id, message_body, message_id=thread_id)
    thread["message_count"] = 0  # the starter message is not counted
    member = payloads.thread_member_json(thread_id, state.bot.id, thread["thread_metadata"]["create_timestamp"])  # type: ignore[arg-type]
    await events.thread_created(fake, thread, member)
    await events.message_created(fake, message)
    return json_response({**thread, "member": member, "message": message}, status=201)


# -- pins -----------------------------------------------------------------------------------------


def _pinnable(request: web.Request) -> tuple[JSON | None, web.Response | None]:
    state = fake_of(request).state
    channel_id = request.match_info["channel_id"]
    if state.channel(channel_id) is None:
        return None, discord_error(404, 10003, "Unknown Channel")
    message = state.message(request.match_info["message_id"])
    if message is None or message["channel_id"] != channel_id:
        return None, discord_error(404, 10008, "Unknown Message")
    if not state.permissions_of(state.bot) & (PIN_MESSAGES | MANAGE_MESSAGES):
        return None, _missing_permissions()
    return message, None


async def _pins_changed(request: web.Request, channel_id: str) -> None:
    fake = fake_of(request)
    fake._changed()
    await fake.gateway.dispatch("CHANNEL_PINS_UPDATE", {"guild_id": fake.guild_id, "channel_id": channel_id,
                                                        "last_pin_timestamp": iso_now()})


@routes.put(API_PREFIX + "/channels/{channel_id}/messages/pins/{message_id}")
async def pin(request: web.Request) -> web.Response:
    message, refused = _pinnable(request)
    if refused is not None:
        return refused
    assert message is not None
    if not message["pinned"]:
        fake = fake_of(request)
        message["pinned"] = True
        notice = fake.state.add_message(
            message["channel_id"], {"content": ""}, message_type=CHANNEL_PINNED_MESSAGE,
            extra={"message_reference": {"message_id": message["id"], "channel_id": message["channel_id"],
                                         "guild_id": fake.guild_id, "type": 0}})
        await events.message_created(fake, notice)
        await events.message_updated(fake, message)
        await _pins_changed(request, message["channel_id"])
    return no_content()


@routes.delete(API_PREFIX + "/channels/{channel_id}/messages/pins/{message_id}")
async def unpin(request: web.Request) -> web.Response:
    message, refused = _pinnable(request)
    if refused is not None:
        return refused
    assert message is not None
    if message["pinned"]:
        message["pinned"] = False
        await events.message_updated(fake_of(request), message)
        await _pins_changed(request, message["channel_id"])
    return no_content()


@routes.get(API_PREFIX + "/channels/{channel_id}/messages/pins")
async def pins(request: web.Request) -> web.Response:
    state = fake_of(request).state
    channel_id = request.match_info["channel_id"]
    if state.channel(channel_id) is None:
        return discord_error(404, 10003, "Unknown Channel")
    pinned: list[Any] = [m for m in reversed(state.messages.get(channel_id, [])) if m["pinned"]]
    return json_response({"items": [{"pinned_at": m["timestamp"], "message": m} for m in pinned], "has_more": False})
