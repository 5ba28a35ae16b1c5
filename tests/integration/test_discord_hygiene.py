"""Interaction hygiene: work that reads the store defers first, and any failure is one log line
and a private "Could not do that: …" answer, never Discord's "The application did not respond"."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
import discord
import pytest
from discord import app_commands
from discord.ext import commands

from commands.formatting import Page
from commands.paging import RENDERERS, page_view
from commands.replies import defer
from eventstore.store import StoreUnavailable
from tests.fake_discord import PLAIN_MEMBER, FakeDiscord

from ..conftest import FakeClock
from .discord_harness import running_rig


class Broken(commands.Cog):
    """Commands whose handlers raise: before answering, and after a public "thinking…"."""

    @app_commands.command(name="broken", description="raises at once")
    async def broken(self, interaction: discord.Interaction[Any]) -> None:
        raise RuntimeError("the disk is on fire")

    @app_commands.command(name="broken-later", description="raises after deferring publicly")
    async def broken_later(self, interaction: discord.Interaction[Any]) -> None:
        await defer(interaction, ephemeral=False)
        raise KeyError("gone")


async def test_a_command_whose_handler_raises_gets_a_private_answer_and_one_log_line(
        fake: FakeDiscord, db: asyncpg.Pool, pg_server_dsn: str, clock: FakeClock,
        caplog: pytest.LogCaptureFixture) -> None:
    async with running_rig(fake, pg_server_dsn, clock) as rig:
        bot = rig.service.bot
        assert bot is not None
        guild = discord.Object(int(fake.guild_id))
        await bot.add_cog(Broken(), guild=guild)
        await bot.tree.sync(guild=guild)
        caplog.clear()
        interaction = await fake.slash_command("broken", {}, user=PLAIN_MEMBER)
        answer = await fake.wait_answer(interaction)
        assert answer.ephemeral and answer.first_type == 4
        assert answer.content == (f"Could not do that: an unexpected error (RuntimeError; reference "
                                  f"{interaction.id} in the log).")
        failures = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(failures) == 1 and failures[0].name == "commands.failures"
        assert failures[0].exc_info is not None and "the disk is on fire" in str(failures[0].exc_info[1])
        assert "/broken by member" in failures[0].getMessage()

        # After a public "thinking…", the failure is still private: the public placeholder goes.
        later = await fake.slash_command("broken-later", {}, user=PLAIN_MEMBER)
        answer = await fake.wait_answer(later)
        assert answer.first_type == 5 and answer.ephemeral and answer.content.startswith("Could not do that: ")
        thinking = fake.interactions[later.id].original_message_id
        assert thinking is not None and fake.message(thinking) is None


async def test_input_the_database_refuses_is_answered_not_left_hanging(
        fake: FakeDiscord, db: asyncpg.Pool, pg_server_dsn: str, clock: FakeClock) -> None:
    async with running_rig(fake, pg_server_dsn, clock):
        interaction = await fake.slash_command("issue", {"repo": "acme/a\x00pp", "number": 1}, user=PLAIN_MEMBER)
        answer = await fake.wait_answer(interaction)
        assert answer.ephemeral and answer.content == "Could not do that: the database refuses that input " \
                                                      "(a NUL character, say)."


async def test_a_button_whose_work_fails_gets_the_same_private_answer(
        fake: FakeDiscord, db: asyncpg.Pool, pg_server_dsn: str, clock: FakeClock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    async def unreadable(interaction: discord.Interaction[Any], position: int, arg: str) -> Page:
        raise StoreUnavailable("database unavailable: connection reset")

    monkeypatch.setitem(RENDERERS, "boom", unreadable)  # a list whose next page cannot be read
    async with running_rig(fake, pg_server_dsn, clock) as rig:
        assert rig.service.bot is not None
        channel = rig.service.bot.get_channel(int(fake.channel_id))
        assert isinstance(channel, discord.TextChannel)
        view = page_view("boom", Page("page 1", next=10), "")
        assert view is not None
        message = await channel.send("page 1", view=view)
        answer = await fake.wait_answer(await fake.click_button(message.id, "cnd:page:boom:10:", user=PLAIN_MEMBER))
        assert answer.first_type == 6 and answer.ephemeral  # deferred (a page is read), then told privately
        assert answer.content == "Could not do that: the event store is unavailable; try again in a moment."
        assert fake.message(message.id)["content"] == "page 1"  # the list itself is left as it was
