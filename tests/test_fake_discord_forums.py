"""Self-test of the fake Discord's forum channels, tags, channel edits and pins, with the real
discord.py client (what the status cards and boards use)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import discord
import pytest

from tests.fake_discord import FakeDiscord, redirect_discord_py
from tests.fake_discord.models import BOT_PERMISSIONS, MANAGE_CHANNELS, MANAGE_MESSAGES


class Client(discord.Client):
    def __init__(self) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        super().__init__(intents=intents, guild_ready_timeout=0.1)


async def started(fake: FakeDiscord) -> AsyncIterator[Client]:
    client = Client()
    with redirect_discord_py(fake):
        runner = asyncio.create_task(client.start("fake-token"))
        await asyncio.wait_for(client.wait_until_ready(), 5)
        try:
            yield client
        finally:
            await client.close()
            await runner
    assert fake.errors == [] and fake.unhandled == [], (fake.errors, fake.unhandled)


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(forum_channels={"issues-forum": ["Queued", "in_review"]}) as fake:
        yield fake


@pytest.fixture
async def client(fake: FakeDiscord) -> AsyncIterator[Client]:
    async for client in started(fake):
        yield client


def forum_of(client: Client, fake: FakeDiscord) -> discord.ForumChannel:
    forum = client.get_channel(int(fake.channel_named("issues-forum")))
    assert isinstance(forum, discord.ForumChannel)
    return forum


async def test_a_forum_post_comes_with_its_starter_message_and_tags(fake: FakeDiscord, client: Client) -> None:
    forum = forum_of(client, fake)
    assert [t.name for t in forum.available_tags] == ["Queued", "in_review"]
    made = await forum.create_thread(name="acme/app#7", content="card", applied_tags=[forum.available_tags[0]])
    assert made.message.id == made.thread.id  # the starter message has the post's id
    assert fake.tag_names(made.thread.id) == ["Queued"]
    assert [m["content"] for m in fake.messages_in(made.thread.id)] == ["card"]
    await made.thread.edit(applied_tags=[forum.available_tags[1]])
    assert fake.tag_names(made.thread.id) == ["in_review"]
    with pytest.raises(discord.HTTPException) as refused:  # nothing is posted in a forum itself
        await fake_channel(client, fake.channel_named("issues-forum")).send("hello")
    assert refused.value.code == 50008


def fake_channel(client: Client, channel_id: str) -> discord.PartialMessageable:
    return client.get_partial_messageable(int(channel_id))


async def test_creating_tags_needs_manage_channels(fake: FakeDiscord, client: Client) -> None:
    forum = forum_of(client, fake)
    with pytest.raises(discord.Forbidden):
        await forum.edit(available_tags=[*forum.available_tags, discord.ForumTag(name="done")])
    assert [t["name"] for t in fake.state.channels[str(forum.id)]["available_tags"]] == ["Queued", "in_review"]


async def test_tags_are_created_and_a_post_pinned_with_the_permissions() -> None:
    async with FakeDiscord(forum_channels={"f": []}, bot_permissions=BOT_PERMISSIONS | MANAGE_CHANNELS) as fake:
        async for client in started(fake):
            forum = client.get_channel(int(fake.channel_named("f")))
            assert isinstance(forum, discord.ForumChannel)
            edited = await forum.edit(available_tags=[discord.ForumTag(name="done"), discord.ForumTag(name="x")])
            assert edited is not None and [t.name for t in edited.available_tags] == ["done", "x"]
            assert all(t.id for t in edited.available_tags)
            made = await edited.create_thread(name="board", content="b", applied_tags=[edited.available_tags[0]])
            await made.thread.edit(pinned=True)
            assert fake.threads[str(made.thread.id)]["flags"] & 2
            too_many = [discord.ForumTag(name=f"t{i}") for i in range(21)]
            with pytest.raises(discord.HTTPException):
                await edited.edit(available_tags=too_many)


async def test_pins_and_edits_in_archived_threads(fake: FakeDiscord, client: Client) -> None:
    channel = client.get_channel(int(fake.channel_id))
    assert isinstance(channel, discord.TextChannel)
    thread = await channel.create_thread(name="t", type=discord.ChannelType.public_thread)
    message = await thread.send("card")
    await message.pin()
    stored = fake.message(message.id)
    assert stored is not None and stored["pinned"]
    assert [m["type"] for m in fake.messages_in(thread.id)] == [0, 6]  # the card, "pinned a message"
    assert fake.requests_to("PUT", f"/channels/{thread.id}/messages/pins/{message.id}")
    await fake.archive_thread(thread.id)
    with pytest.raises(discord.HTTPException) as refused:
        await message.edit(content="edited")
    assert refused.value.code == 50083


async def test_pinning_needs_a_permission() -> None:
    async with FakeDiscord(bot_permissions=BOT_PERMISSIONS & ~MANAGE_MESSAGES) as fake:
        async for client in started(fake):
            channel = client.get_channel(int(fake.channel_id))
            assert isinstance(channel, discord.TextChannel)
            message = await channel.send("board")
            with pytest.raises(discord.Forbidden):
                await message.pin()
