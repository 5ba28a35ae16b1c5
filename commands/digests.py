"""/digest: the daily digest's figures for the last 24 hours, on demand.

Private by default, like /stats (a report for whoever asks, not a post into the channel every
time someone looks); ``share`` posts it for the channel.
"""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from eventstore.digest import PERIOD, digest_between

from .digest_text import digest_text
from .replies import defer, reply
from .services import BotServices


class DigestCog(commands.Cog):
    def __init__(self, bot: commands.Bot, services: BotServices) -> None:
        self.bot = bot
        self.services = services

    @app_commands.command(name="digest", description="The last 24 hours: done, escalated, stuck, merges, gates, cost")
    @app_commands.describe(share="Post it for the channel instead of only for you")
    async def digest(self, interaction: discord.Interaction[Any], share: bool = False) -> None:
        await defer(interaction, ephemeral=not share)  # a day of events is read
        end = self.services.clock()
        digest = await digest_between(self.services.read_models, end - PERIOD, end)
        await reply(interaction, digest_text(digest, "Last 24 hours"), ephemeral=not share)
