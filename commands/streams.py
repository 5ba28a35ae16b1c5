"""/stream: the events of one stream, newest page first, with buttons to page."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from .formatting import PAGE_SIZE, Page, stream_page
from .paging import RENDERERS, page_view
from .replies import defer, reply
from .services import BotServices, services_of


async def _stream(interaction: discord.Interaction[Any], top: int, stream_id: str) -> Page:
    store = services_of(interaction).store
    version = await store.stream_version(stream_id)
    top = min(top, version) if top else version
    events = await store.read_stream(stream_id, max(1, top - PAGE_SIZE + 1), PAGE_SIZE) if top else []
    return stream_page(stream_id, list(reversed([e for e in events if e.version <= top])), version)


RENDERERS["stream"] = _stream


class StreamsCog(commands.Cog):
    def __init__(self, bot: commands.Bot, services: BotServices) -> None:
        self.bot = bot
        self.services = services

    @app_commands.command(name="stream", description="The events of a stream, newest first")
    @app_commands.describe(id="A stream id: owner/repo#42 for an issue, or an agent id")
    async def stream(self, interaction: discord.Interaction[Any], id: str) -> None:  # noqa: A002
        stream_id = id.strip()
        await defer(interaction, ephemeral=True)
        page = await _stream(interaction, 0, stream_id)
        await reply(interaction, page.content, view=page_view("stream", page, stream_id), ephemeral=True)
