"""Slash commands, one cog per area, and the buttons they and the notifier use.

``ALL_COGS`` is what the bot loads; ``DYNAMIC_ITEMS`` are the buttons registered in setup_hook.
"""

from __future__ import annotations

from collections.abc import Callable

from discord.ext import commands

from .agents import AgentsCog
from .digests import DigestCog
from .forms import DecisionForms
from .gates import GatesCog
from .issues import IssuesCog
from .learnings import LearningsCog
from .paging import PageButton
from .panels import PanelButton
from .routing import RoutingCog
from .services import BotServices
from .stats import StatsCog
from .streams import StreamsCog

# Each cog is made with the bot and the services it uses (its constructor's arguments).
CogFactory = Callable[[commands.Bot, BotServices], commands.Cog]
ALL_COGS: tuple[CogFactory, ...] = (AgentsCog, IssuesCog, StreamsCog, GatesCog, StatsCog, LearningsCog, DigestCog,
                                    DecisionForms, RoutingCog)
DYNAMIC_ITEMS = (PanelButton, PageButton)
