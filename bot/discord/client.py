"""The discord.py bot: one client, set up in ``setup_hook``, started by the runtime with ``start()``."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import discord
import yarl
from discord.ext import commands

from commands import DYNAMIC_ITEMS, CogFactory
from commands.failures import answer_failure
from commands.services import BotServices

from .ratelimits import bound_bucket_sweeps

log = logging.getLogger(__name__)


def point_discord_py_at(api_base: str, gateway_url: str) -> None:
    """discord.py builds every REST URL from ``Route.BASE`` and connects the gateway to
    ``DEFAULT_GATEWAY``: two public class attributes, set before ``start()`` (the settings
    ``DISCORD_API_BASE_URL`` and ``DISCORD_GATEWAY_URL``)."""
    discord.http.Route.BASE = api_base.rstrip("/")
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)


class ConductorBot(commands.Bot):
    def __init__(self, services: BotServices, *, cogs: Sequence[CogFactory] = (),
                 guild_ready_timeout: float = 2.0,
                 report: Callable[[str, str | None], None] = lambda state, detail: None) -> None:
        # Slash commands and buttons need no privileged intents: guilds for channels and threads.
        intents = discord.Intents.none()
        intents.guilds = True
        # No message mentions anyone unless it says so (the gate role's pings do): agent-supplied
        # text in a command's answer can never ping.
        super().__init__(command_prefix=commands.when_mentioned, intents=intents, help_command=None,
                         guild_ready_timeout=guild_ready_timeout, allowed_mentions=discord.AllowedMentions.none())
        self.services = services
        # One rate-limit bucket per issue thread: discord.py's own sweep of them is quadratic.
        self.bucket_sweep = bound_bucket_sweeps(self.http)
        self._cog_types = cogs
        self._report = report
        # Every slash command's failure: logged once, answered privately (buttons and forms run
        # theirs through the same handler, commands.failures).
        self.tree.error(answer_failure)

    async def setup_hook(self) -> None:
        # Runs at every login, and the runtime logs in again after a failure: override=True
        # replaces the cogs of an earlier attempt instead of refusing them.
        self.add_dynamic_items(*DYNAMIC_ITEMS)
        for cog in self._cog_types:
            await self.add_cog(cog(self, self.services), override=True)
        guild = discord.Object(self.services.guild_id) if self.services.guild_id else None
        if guild is not None:
            # Sync to the configured guild only: instant, and no global rate-limited sync per start.
            self.tree.copy_global_to(guild=guild)
            self.tree.clear_commands(guild=None)
            await self.tree.sync(guild=guild)
        else:
            await self.tree.sync()

    async def reset(self) -> None:
        """Leave the client as new, to start it again after a failure: closed (its HTTP session
        and gateway too), its state cleared, and its asyncio objects made again (what entering the
        client as a context manager does)."""
        await self.close()
        self.clear()
        # Closing the HTTP session closed its connector too, and the next login would build its
        # session on that closed connector ("Session is closed"): let login make a new one.
        self.http.connector = discord.utils.MISSING
        await self.__aenter__()

    async def on_connect(self) -> None:
        self._report("connecting", "gateway connected, not ready yet")

    async def on_ready(self) -> None:
        log.info("Discord bot connected as %s", self.user)
        self._report("connected", None)

    async def on_resumed(self) -> None:
        self._report("connected", None)

    async def on_disconnect(self) -> None:
        self._report("connecting", "gateway disconnected; discord.py reconnects")
