"""What slash commands and buttons may use: the store's interfaces, never its driver.

The bot's composition root builds one ``BotServices`` and hangs it on the client as
``client.services``, where every command and button finds it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import discord

from eventstore.read_models import ReadModels
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


def services_of(interaction: discord.Interaction[Any]) -> BotServices:
    services: BotServices = interaction.client.services
    return services
