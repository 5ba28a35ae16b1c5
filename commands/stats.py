"""/stats tools, /stats memory and /stats cost."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from .formatting import cost_table, memory_table, tools_table
from .replies import defer, reply
from .services import BotServices


class StatsCog(commands.GroupCog, group_name="stats", group_description="Analytics from the event store"):
    def __init__(self, bot: commands.Bot, services: BotServices) -> None:
        self.bot = bot
        self.services = services
        super().__init__()

    @app_commands.command(name="tools", description="Top 10 tools by usage")
    @app_commands.describe(repo="Only this repo (owner/name)")
    async def tools(self, interaction: discord.Interaction[Any], repo: str | None = None) -> None:
        repo = (repo or "").strip() or None
        await defer(interaction, ephemeral=True)
        stats = await self.services.stats.top_tools(repo)
        await reply(interaction, tools_table(stats, repo), ephemeral=True)

    @app_commands.command(name="memory", description="Memory recall hit rate by agent")
    async def memory(self, interaction: discord.Interaction[Any]) -> None:
        await defer(interaction, ephemeral=True)
        stats = await self.services.stats.memory_quality()
        await reply(interaction, memory_table(stats), ephemeral=True)

    @app_commands.command(name="cost", description="LLM cost (TOKEN_USAGE) by agent and by issue")
    async def cost(self, interaction: discord.Interaction[Any]) -> None:
        stats = self.services.stats
        await defer(interaction, ephemeral=True)
        text = cost_table(await stats.cost_by_agent(), await stats.cost_by_issue())
        await reply(interaction, text, ephemeral=True)
