"""REST routes for login, command sync, channels, messages and threads."""

from __future__ import annotations

import copy

from aiohttp import web

from . import events, forums, payloads
from .payloads import JSON
from .snowflake import SnowflakeFactory
from .wire import API_PREFIX, body_of, discord_error, fake_of, files_of, json_response, no_content

routes = web.RouteTableDef()


def _unknown_channel() -> web.Response:
    return discord_error(404, 10003, "Unknown Channel")


def _unknown_message() -> web.Response:
    return discord_error(404, 10008, "Unknown Message")


# -- login ---------------------------------------------------------------------------


@routes.get(API_PREFIX + "/users/@me")
async def get_me(request: web.Request) -> web.Response:
    fake = fake_of(request)
    return json_response(fake.state.user_payload(fake.state.bot))


@routes.get(API_PREFIX + "/oauth2/applications/@me")
async def get_application(request: web.Request) -> web.Response:
    fake = fake_of(request)
    bot = fake.state.user_payload(fake.state.bot)
    # The owner must be a real user; the fake makes the guild owner own the app.
    owner = {**bot, "id": fake.state.owner_id, "username": "owner", "bot": False, "global_name": None}
    return json_response(
        payloads.application_json(
            application_id=fake.application_id, name=fake.state.bot.username, owner=owner, bot=bot
        )
    )


@routes.get(API_PREFIX + "/gateway")
async def get_gateway(request: web.Request) -> web.Response:
    return json_response({"url": fake_of(request).gateway_url})


@routes.get(API_PREFIX + "/gateway/bot")
async def get_gateway_bot(request: web.Request) -> web.Response:
    # Only AutoShardedClient calls this; a plain Bot uses DEFAULT_GATEWAY.
    return json_response(
        {
            "url": fake_of(request).gateway_url,
            "shards": 1,
            "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1},
        }
    )


# -- application commands -----------------------------------------------------------------


def _store_commands(request: web.Request, guild_id: str | None) -> web.Response:
    fake = fake_of(request)
    if request.match_info["application_id"] != fake.application_id:
        return discord_error(403, 50001, "Missing Access")
    previous = {c["name"]: c for c in fake.synced_commands(guild_id)}
    stored: list[JSON] = []
    for command in body_of(request) or []:
        entry: JSON = {
            "type": 1,
            "description": "",
            "options": [],
            "default_member_permissions": None,
            "nsfw": False,
            **copy.deepcopy(command),
            # Keep the id stable across re-syncs, as Discord does for the same name.
            "id": previous[command["name"]]["id"] if command["name"] in previous else fake.state.ids.next(),
            "application_id": fake.application_id,
            "version": fake.state.ids.next(),
        }
        if guild_id is not None:
            entry["guild_id"] = guild_id
        stored.append(entry)
    if guild_id is None:
        fake.global_commands = stored
    else:
        fake.guild_commands[guild_id] = stored
    fake._changed()
    return json_response(stored)


@routes.put(API_PREFIX + "/applications/{application_id}/commands")
async def put_global_commands(request: web.Request) -> web.Response:
    return _store_commands(request, None)


@routes.put(API_PREFIX + "/applications/{application_id}/guilds/{guild_id}/commands")
async def put_guild_commands(request: web.Request) -> web.Response:
    return _store_commands(request, request.match_info["guild_id"])


@routes.get(API_PREFIX + "/applications/{application_id}/commands")
async def get_global_commands(request: web.Request) -> web.Response:
    return json_response(fake_of(request).synced_commands(None))


@routes.get(API_PREFIX + "/applications/{application_id}/guilds/{guild_id}/commands")
async def get_guild_commands(request: web.Request) -> web.Response:
    return json_response(fake_of(request).synced_commands(request.match_info["guild_id"]))


# -- guild ------------------------------------------------------------------------------------


@routes.get(API_PREFIX + "/guilds/{guild_id}/members/{user_id}")
async def get_member(request: web.Request) -> web.Response:
    state = fake_of(request).state
    member = state.members.get(request.match_info["user_id"])
    if member is None:
        return discord_error(404, 10007, "Unknown Member")
    return json_response(state.member_payload(member))


@routes.get(API_PREFIX + "/guilds/{guild_id}/roles")
async def get_roles(request: web.Request) -> web.Response:
    return json_response([payloads.role_json(r) for r in fake_of(request).state.roles.values()])


@routes.get(API_PREFIX + "/guilds/{guild_id}/channels")
async def get_channels(request: web.Request) -> web.Response:
    return json_response(list(fake_of(request).state.channels.values()))


@routes.get(API_PREFIX + "/guilds/{guild_id}/threads/active")
async def get_active_threads(request: web.Request) -> web.Response:
    threads = [t for t in fake_of(request).state.threads.values() if not t["thread_metadata"]["archived"]]
    return json_response({"threads": threads, "members": []})


# -- channels and threads ----------------------------------------------------------------------


@routes.get(API_PREFIX + "/channels/{channel_id}")
async def get_channel(request: web.Request) -> web.Response:
    channel = fake_of(request).state.channel(request.match_info["channel_id"])
    return json_response(channel) if channel is not None else _unknown_channel()


@routes.patch(API_PREFIX + "/channels/{channel_id}")
async def patch_channel(request: web.Request) -> web.Response:
    """Edits a channel or thread; ``thread.edit(archived=False)`` unarchives."""
    fake = fake_of(request)
    channel = fake.state.channel(request.match_info["channel_id"])
    if channel is None:
        return _unknown_channel()
    refused = forums.refuse_channel_edit(fake.state, channel, body_of(request) or {})
    if refused is not None:
        return refused
    fake.state.edit_channel(channel, body_of(request) or {})
    await events.channel_updated(fake, channel)
    return json_response(channel)


async def _new_thread(request: web.Request, parent_id: str, starter: JSON | None) -> web.Response:
    fake = fake_of(request)
    body = body_of(request) or {}
    default_type = payloads.PUBLIC_THREAD if starter is not None else payloads.PRIVATE_THREAD
    thread = fake.state.create_thread(
        parent_id=parent_id,
        name=str(body.get("name", "thread")),
        thread_type=int(body.get("type") or default_type),
        auto_archive_duration=int(body.get("auto_archive_duration") or 1440),
        owner_id=fake.state.bot.id,  # type: ignore[arg-type]
        starter_message=starter,
    )
    # The creator joins its thread; Discord sends that membership along.
    member = payloads.thread_member_json(thread["id"], fake.state.bot.id, thread["thread_metadata"]["create_timestamp"])  # type: ignore[arg-type]
    await events.thread_created(fake, thread, member)
    if starter is not None:
        await events.message_updated(fake, starter)
    return json_response({**thread, "member": member}, status=201)


@routes.post(API_PREFIX + "/channels/{channel_id}/threads")
async def create_thread(request: web.Request) -> web.Response:
    parent_id = request.match_info["channel_id"]
    parent = fake_of(request).state.channels.get(parent_id)
    if parent is None:
        return _unknown_channel()
    if forums.is_forum(parent):
        return await forums.create_post(request, parent)
    return await _new_thread(request, parent_id, None)


@routes.post(API_PREFIX + "/channels/{channel_id}/messages/{message_id}/threads")
async def create_thread_from_message(request: web.Request) -> web.Response:
    state = fake_of(request).state
    parent_id = request.match_info["channel_id"]
    message = state.message(request.match_info["message_id"])
    if parent_id not in state.channels:
        return _unknown_channel()
    if forums.is_forum(state.channels[parent_id]):
        return discord_error(400, 50024, "Cannot execute action on this channel type")
    if message is None or message["channel_id"] != parent_id:
        return _unknown_message()
    if message["id"] in state.threads:
        return discord_error(400, 160004, "A thread has already been created for this message")
    return await _new_thread(request, parent_id, message)


@routes.put(API_PREFIX + "/channels/{channel_id}/thread-members/{user_id}")
@routes.delete(API_PREFIX + "/channels/{channel_id}/thread-members/{user_id}")
async def thread_member(request: web.Request) -> web.Response:
    if request.match_info["channel_id"] not in fake_of(request).state.threads:
        return _unknown_channel()
    return no_content()


@routes.post(API_PREFIX + "/channels/{channel_id}/typing")
async def typing(request: web.Request) -> web.Response:
    return no_content()


# -- messages -----------------------------------------------------------------------------------


def attachments_from(files: list[tuple[str, bytes, str]], channel_id: str, ids: SnowflakeFactory) -> list[JSON]:
    """Attachment objects for uploaded files (multipart ``files[n]`` parts)."""
    out: list[JSON] = []
    for filename, content, content_type in files:
        attachment_id = ids.next()
        url = f"https://cdn.discordapp.com/attachments/{channel_id}/{attachment_id}/{filename}"
        out.append(
            {
                "id": attachment_id,
                "filename": filename,
                "size": len(content),
                "url": url,
                "proxy_url": url,
                "content_type": content_type,
            }
        )
    return out


@routes.post(API_PREFIX + "/channels/{channel_id}/messages")
async def post_message(request: web.Request) -> web.Response:
    fake = fake_of(request)
    channel_id = request.match_info["channel_id"]
    channel = fake.state.channel(channel_id)
    if channel is None:
        return _unknown_channel()
    if forums.is_forum(channel):  # a forum holds posts (threads) only
        return discord_error(400, 50008, "Cannot send messages in a non-text channel")
    thread_meta = channel.get("thread_metadata")
    if thread_meta is not None and thread_meta["archived"]:
        if thread_meta["locked"]:
            return discord_error(400, 50083, "Thread is archived")
        # Real Discord unarchives an unlocked thread when someone posts in it.
        fake.state.edit_channel(channel, {"archived": False})
        await events.channel_updated(fake, channel)
    body = dict(body_of(request) or {})
    body["attachments"] = attachments_from(files_of(request), channel_id, fake.state.ids)
    message = fake.state.add_message(channel_id, body)
    await events.message_created(fake, message)
    return json_response(message)


@routes.get(API_PREFIX + "/channels/{channel_id}/messages")
async def get_history(request: web.Request) -> web.Response:
    """Newest first, honouring limit/before/after like Discord."""
    fake = fake_of(request)
    channel_id = request.match_info["channel_id"]
    if fake.state.channel(channel_id) is None:
        return _unknown_channel()
    messages = fake.state.messages.get(channel_id, [])
    before = request.query.get("before")
    after = request.query.get("after")
    if before:
        messages = [m for m in messages if int(m["id"]) < int(before)]
    if after:
        messages = [m for m in messages if int(m["id"]) > int(after)]
    limit = int(request.query.get("limit", 50))
    newest_first = list(reversed(messages))
    chosen = list(reversed(messages[:limit])) if after else newest_first[:limit]
    return json_response(chosen)


def _message_in(request: web.Request) -> JSON | None:
    state = fake_of(request).state
    message = state.message(request.match_info["message_id"])
    if message is None or message["channel_id"] != request.match_info["channel_id"]:
        return None
    return message


@routes.get(API_PREFIX + "/channels/{channel_id}/messages/{message_id}")
async def get_message(request: web.Request) -> web.Response:
    message = _message_in(request)
    return json_response(message) if message is not None else _unknown_message()


async def edit_message(request: web.Request, message: JSON) -> web.Response:
    """Apply a PATCH body (and any uploaded files) to ``message``: only the keys sent change."""
    fake = fake_of(request)
    body = dict(body_of(request) or {})
    if files_of(request):
        new = attachments_from(files_of(request), message["channel_id"], fake.state.ids)
        body["attachments"] = list(body.get("attachments") or []) + new
    fake.state.edit_message(message, body)
    await events.message_updated(fake, message)
    return json_response(message)


@routes.patch(API_PREFIX + "/channels/{channel_id}/messages/{message_id}")
async def patch_message(request: web.Request) -> web.Response:
    message = _message_in(request)
    if message is None:
        return _unknown_message()
    thread = fake_of(request).state.threads.get(message["channel_id"])
    if thread is not None and thread["thread_metadata"]["archived"]:
        return discord_error(400, 50083, "Thread is archived")
    return await edit_message(request, message)


@routes.delete(API_PREFIX + "/channels/{channel_id}/messages/{message_id}")
async def delete_message(request: web.Request) -> web.Response:
    fake = fake_of(request)
    message = _message_in(request)
    if message is None:
        return _unknown_message()
    fake.state.delete_message(message["id"])
    await events.message_deleted(fake, message)
    return no_content()
