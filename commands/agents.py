"""/agents and /agent: the rig's agents as Discord shows them."""

from __future__ import annotations

import asyncio
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from eventstore.store import StoreUnavailable

from .formatting import LIST_LIMIT, agent_detail, agents_overview
from .markdown import code
from .replies import defer, reply
from .services import BotServices

# Autocomplete cannot defer: suggestions come within this, or none do (the command still works).
SUGGEST_SECONDS = 2.0


class AgentsCog(commands.Cog):
    def __init__(self, bot: commands.Bot, services: BotServices) -> None:
        self.bot = bot
        self.services = services

    @app_commands.command(name="agents", description="Overview of the rig's agents")
    async def agents(self, interaction: discord.Interaction[Any]) -> None:
        services = self.services
        await defer(interaction, ephemeral=False)
        agents = await services.read_models.agents(limit=LIST_LIMIT)
        await reply(interaction, agents_overview(agents.items, services.clock(), services.agent_online), ephemeral=False)

    @app_commands.command(name="agent", description="One agent in full")
    @app_commands.describe(id="The agent's id, e.g. dev-e-1")
    async def agent(self, interaction: discord.Interaction[Any], id: str) -> None:  # noqa: A002 - the option's name
        services = self.services
        await defer(interaction, ephemeral=False)
        found = await services.read_models.agent(id.strip())
        if found is None:
            await reply(interaction, f"No agent `{code(id)}`.", ephemeral=True)
            return
        await reply(interaction, agent_detail(found, services.clock(), services.agent_online), ephemeral=False)

    @agent.autocomplete("id")
    async def agent_ids(self, interaction: discord.Interaction[Any], current: str) -> list[app_commands.Choice[str]]:
        try:
            agents = await asyncio.wait_for(self.services.read_models.agents(limit=LIST_LIMIT), SUGGEST_SECONDS)
        except (TimeoutError, StoreUnavailable):
            return []
        needle = current.lower()
        return [app_commands.Choice(name=a.id[:100], value=a.id[:100]) for a in agents.items
                if needle in a.id.lower()][:25]
