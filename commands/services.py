"""What slash commands and buttons may use: the store's interfaces, never its driver.

The composition root builds one ``BotServices``: each cog receives it in its constructor, and the
client carries it as ``client.services`` for the buttons and page renderers, which discord.py
builds from a custom_id (``services_of``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import discord

from eventstore.read_models import ReadModels
from eventstore.routing import Routing
from eventstore.stats import Stats
from eventstore.store import EventStore
from eventstore.subscriptions import ThreadLinks


@dataclass(frozen=True)
class BotServices:
    store: EventStore
    read_models: ReadModels
    stats: Stats
    links: ThreadLinks
    clock: Callable[[], datetime]
    agent_online: timedelta
    guild_id: int | None
    gate_role_id: int | None
    routing: Routing | None = None  # which channel holds each repo's threads (/route)


def services_of(interaction: discord.Interaction[Any]) -> BotServices:
    services: BotServices = interaction.client.services
    return services
