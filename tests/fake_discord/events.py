"""Gateway dispatches that follow a change of the fake's state.

Real Discord tells the bot about REST side effects over the gateway. Two of
these matter for discord.py: THREAD_CREATE (without it ``bot.get_channel`` and
``guild.get_thread`` never find a thread made over REST) and THREAD_UPDATE
(an archived thread is dropped from the cache).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from .payloads import FLAG_EPHEMERAL, JSON

if TYPE_CHECKING:
    from .server import FakeDiscord


def _message_event(fake: FakeDiscord, message: JSON) -> JSON:
    data = copy.deepcopy(message)
    data["guild_id"] = fake.guild_id
    author_id = message["author"]["id"]
    if author_id in fake.state.members and "webhook_id" not in message:
        member = fake.state.member_payload(fake.state.members[author_id])
        member.pop("user")
        data["member"] = member
    return data


async def message_created(fake: FakeDiscord, message: JSON) -> None:
    fake._changed()
    # Ephemeral messages are never sent over the gateway.
    if fake.dispatch_messages and not message["flags"] & FLAG_EPHEMERAL:
        await fake.gateway.dispatch("MESSAGE_CREATE", _message_event(fake, message))


async def message_updated(fake: FakeDiscord, message: JSON) -> None:
    fake._changed()
    if fake.dispatch_messages and not message["flags"] & FLAG_EPHEMERAL:
        await fake.gateway.dispatch("MESSAGE_UPDATE", _message_event(fake, message))


async def message_deleted(fake: FakeDiscord, message: JSON) -> None:
    fake._changed()
    if fake.dispatch_messages and not message["flags"] & FLAG_EPHEMERAL:
        await fake.gateway.dispatch(
            "MESSAGE_DELETE", {"id": message["id"], "channel_id": message["channel_id"], "guild_id": fake.guild_id}
        )


async def thread_created(fake: FakeDiscord, thread: JSON, member: JSON | None) -> None:
    fake._changed()
    data = copy.deepcopy(thread)
    data["newly_created"] = True
    if member is not None:
        data["member"] = member
    await fake.gateway.dispatch("THREAD_CREATE", data)


async def channel_updated(fake: FakeDiscord, channel: JSON) -> None:
    fake._changed()
    event = "THREAD_UPDATE" if channel["id"] in fake.state.threads else "CHANNEL_UPDATE"
    await fake.gateway.dispatch(event, channel)
