"""/agents and /agent: the rig's agents as Discord shows them."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from .formatting import LIST_LIMIT, agent_detail, agents_overview
from .services import BotServices


class AgentsCog(commands.Cog):
    def __init__(self, bot: commands.Bot, services: BotServices) -> None:
        self.bot = bot
        self.services = services

    @app_commands.command(name="agents", description="Overview of the rig's agents")
    async def agents(self, interaction: discord.Interaction[Any]) -> None:
        services = self.services
        agents = await services.read_models.agents(limit=LIST_LIMIT)
        await interaction.response.send_message(agents_overview(agents.items, services.clock(), services.agent_online))

    @app_commands.command(name="agent", description="One agent in full")
    @app_commands.describe(id="The agent's id, e.g. dev-e-1")
    async def agent(self, interaction: discord.Interaction[Any], id: str) -> None:  # noqa: A002 - the option's name
        services = self.services
        found = await services.read_models.agent(id.strip())
        if found is None:
            await interaction.response.send_message(f"No agent `{id}`.", ephemeral=True)
            return
        await interaction.response.send_message(agent_detail(found, services.clock(), services.agent_online))

    @agent.autocomplete("id")
    async def agent_ids(self, interaction: discord.Interaction[Any], current: str) -> list[app_commands.Choice[str]]:
        agents = await self.services.read_models.agents(limit=LIST_LIMIT)
        needle = current.lower()
        return [app_commands.Choice(name=a.id[:100], value=a.id[:100]) for a in agents.items
                if needle in a.id.lower()][:25]
