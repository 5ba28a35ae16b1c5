"""Slash commands, one cog per area, and the buttons they and the notifier use.

``ALL_COGS`` is what the bot loads; ``DYNAMIC_ITEMS`` are the buttons registered in setup_hook.
"""

from __future__ import annotations

from discord.ext import commands

from .agents import AgentsCog
from .gates import GatesCog
from .issues import IssuesCog
from .paging import PageButton
from .panels import PanelButton
from .stats import StatsCog
from .streams import StreamsCog

ALL_COGS: tuple[type[commands.Cog], ...] = (AgentsCog, IssuesCog, StreamsCog, GatesCog, StatsCog)
DYNAMIC_ITEMS = (PanelButton, PageButton)
