"""Slash commands, one cog per area. ``ALL_COGS`` is what the bot loads."""

from __future__ import annotations

from discord.ext import commands

ALL_COGS: tuple[type[commands.Cog], ...] = ()
