"""/learnings: what agents learned about a repo (the prompt lines the runtime renders)."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from eventstore.learnings import is_repo

from .formatting import learnings_list
from .markdown import code
from .replies import defer, reply
from .services import BotServices


class LearningsCog(commands.Cog):
    def __init__(self, bot: commands.Bot, services: BotServices) -> None:
        self.bot = bot
        self.services = services

    @app_commands.command(name="learnings", description="What agents learned about a repo, by key")
    @app_commands.describe(repo="owner/name")
    async def learnings(self, interaction: discord.Interaction[Any], repo: str) -> None:
        repo = repo.strip()
        if not is_repo(repo):
            await interaction.response.send_message(f"`{code(repo)}` is not a repo: use owner/name.", ephemeral=True)
            return
        await defer(interaction, ephemeral=False)
        found = await self.services.read_models.repo_learnings(repo)
        await reply(interaction, learnings_list(repo, found), ephemeral=False)
