"""/gate approve and /gate reject: the same decision as the buttons, with a reason."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from eventstore.streams import issue_stream_id

from .decisions import REASON_MAX, act
from .services import BotServices


class GatesCog(commands.GroupCog, group_name="gate", group_description="Decide human gates"):
    def __init__(self, bot: commands.Bot, services: BotServices) -> None:
        self.bot = bot
        self.services = services
        super().__init__()

    @app_commands.command(name="approve", description="Approve an issue's open human gate")
    @app_commands.describe(repo="owner/name", number="The issue number", reason="Why (recorded with the decision)")
    async def approve(self, interaction: discord.Interaction[Any], repo: str, number: app_commands.Range[int, 1],
                      reason: app_commands.Range[str, 1, REASON_MAX]) -> None:
        await act(interaction, self.services, "approve", issue_stream_id(repo.strip(), number), reason)

    @app_commands.command(name="reject", description="Reject an issue's open human gate")
    @app_commands.describe(repo="owner/name", number="The issue number", reason="Why (recorded with the decision)")
    async def reject(self, interaction: discord.Interaction[Any], repo: str, number: app_commands.Range[int, 1],
                     reason: app_commands.Range[str, 1, REASON_MAX]) -> None:
        await act(interaction, self.services, "reject", issue_stream_id(repo.strip(), number), reason)
