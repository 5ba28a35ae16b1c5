"""/route: which channel (text or forum) holds a repo's new issue threads, changed at run time.

``/route`` lists the routes; ``/route repo`` shows one; ``/route repo channel`` sets it;
``/route repo remove:True`` removes it (the repo goes back to its DISCORD_REPO_CHANNELS entry, or
the default channel). Changing a route takes the gate role or Manage Server, in the configured
server, like a gate decision. An issue's existing thread stays where it is.
"""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from eventstore.routing import Route, Routing
from eventstore.store import StoreUnavailable
from eventstore.streams import parse_issue_stream_id

from .formatting import LIMIT
from .markdown import code, text
from .services import BotServices

log = logging.getLogger(__name__)


def _refusal(interaction: discord.Interaction[Any], services: BotServices) -> str | None:
    """Why the user may not change routes here, or None if they may."""
    if services.guild_id is None or interaction.guild_id != services.guild_id:
        return "Routes are changed only in the rig's own server."
    user = interaction.user
    if not isinstance(user, discord.Member):
        return "Routes are changed only in the rig's own server."
    if services.gate_role_id is not None and any(r.id == services.gate_role_id for r in user.roles):
        return None
    if interaction.permissions.manage_guild or interaction.permissions.administrator:
        return None
    return "Only members with the gate role (or Manage Server) can change routes."


def _route_line(route: Route) -> str:
    how = f"set by {text(route.set_by)}" if route.set_by else "DISCORD_REPO_CHANNELS"
    when = f" <t:{int(route.set_at.timestamp())}:R>" if route.set_at else ""
    return f"• `{code(route.repo)}` → <#{route.channel_id}> ({how}{when})"


async def routes_list(routing: Routing) -> str:
    routes = await routing.routes()
    header = f"**Routes** — every other repo: <#{routing.default_channel}>"
    if not routes:
        return header + "\nNo repo has a channel of its own."
    out = header
    for i, route in enumerate(routes):
        line = _route_line(route)
        if len(out) + len(line) + 1 > LIMIT:
            return out + f"\n… and {len(routes) - i} more"
        out += "\n" + line
    return out


class RoutingCog(commands.Cog):
    def __init__(self, bot: commands.Bot, services: BotServices) -> None:
        self.bot = bot
        self.services = services

    @app_commands.command(name="route", description="Show or change which channel holds a repo's issue threads")
    @app_commands.describe(repo="owner/name (leave out to list every route)",
                           channel="The text or forum channel for the repo's new threads",
                           remove="Remove the repo's route (back to the configured or default channel)")
    async def route(self, interaction: discord.Interaction[Any], repo: str | None = None,
                    channel: discord.TextChannel | discord.ForumChannel | None = None, remove: bool = False) -> None:
        routing = self.services.routing
        if routing is None:
            await interaction.response.send_message("Routing is not available in this process.", ephemeral=True)
            return
        try:
            answer = await self._answer(interaction, routing, (repo or "").strip(), channel, remove)
        except StoreUnavailable:
            answer = "The event store is unavailable; try again shortly."
        await interaction.response.send_message(answer, ephemeral=True)

    async def _answer(self, interaction: discord.Interaction[Any], routing: Routing, repo: str,
                      channel: discord.TextChannel | discord.ForumChannel | None, remove: bool) -> str:
        if not repo:
            if channel is not None or remove:
                return "Name the repo (`owner/name`) whose route to change."
            return await routes_list(routing)
        if parse_issue_stream_id(f"{repo}#1") is None:
            return f"`{code(repo[:100])}` is not a repo: write it as `owner/name`."
        name = f"`{code(repo)}`"
        if channel is None and not remove:
            return f"New threads of {name} go to <#{await routing.channel_for(repo)}>."
        refused = _refusal(interaction, self.services)
        if refused is not None:
            return refused
        who = interaction.user.name
        if remove:
            if not await routing.remove_route(repo):
                return f"{name} has no route set with /route" + (
                    " (its channel comes from DISCORD_REPO_CHANNELS)." if routing.configured(repo) else ".")
            log.info("%s removed the route of %s", who, repo)
            return f"{name} has no route of its own now: its new threads go to <#{await routing.channel_for(repo)}>."
        assert channel is not None
        if channel.guild.id != interaction.guild_id or channel.type not in (discord.ChannelType.text,
                                                                            discord.ChannelType.forum):
            return "Pick a text or forum channel of this server."
        await routing.set_route(Route(repo, channel.id, who, self.services.clock()))
        log.info("%s routed the new threads of %s to channel %s", who, repo, channel.id)
        return (f"New threads of {name} go to <#{channel.id}> now; the threads it has stay where they are, "
                "and the channel's board lists what needs a human there.")
