"""Human decisions from Discord (buttons and /gate): who may decide, and the answer they get.

A decision counts only from the configured guild (``DISCORD_GUILD_ID``; without one, none is
taken), from a member holding the gate role or Manage Server there; anyone else gets a private
refusal and nothing is stored. The decision itself is a serialised use case
(``eventstore.conductor``), so two clicks at once give one decision and one "already decided". It
records the member's name and id and the channel (``discord``). The panel message is edited by the
notifier when the event is delivered, the same way for every path that closes a gate.
"""

from __future__ import annotations

from typing import Any

import discord

from eventstore.authorization import Decider
from eventstore.conductor import decide_gate, resolve_escalation
from eventstore.store import Rejected, StoreUnavailable

from .services import BotServices

DONE_TEXT = {"approve": "✅ Approved", "reject": "⛔ Rejected", "requeue": "🔁 Back in the queue",
             "close": "🛑 Closed"}


def refusal(interaction: discord.Interaction[Any], guild_id: int | None, gate_role_id: int | None) -> str | None:
    """Why the user may not decide here, or None if they may."""
    if guild_id is None:
        return "Gate decisions are off: the bot has no DISCORD_GUILD_ID to take them from."
    user = interaction.user
    if interaction.guild_id != guild_id or not isinstance(user, discord.Member):
        return "Gate decisions are taken only in the rig's own server."
    if gate_role_id is not None and any(r.id == gate_role_id for r in user.roles):
        return None
    permissions = interaction.permissions
    if permissions.manage_guild or permissions.administrator:
        return None
    return "Only members with the gate role (or Manage Server) can decide this."


async def act(interaction: discord.Interaction[Any], services: BotServices, action: str, stream_id: str,
              reason: str | None) -> None:
    """Apply ``action`` (approve, reject, requeue, close) to the issue stream, if the user may."""
    refused = refusal(interaction, services.guild_id, services.gate_role_id)
    if refused is not None:
        await interaction.response.send_message(refused, ephemeral=True)
        return
    decider = Decider(name=interaction.user.name, via="discord", id=str(interaction.user.id))
    try:
        if action in ("approve", "reject"):
            await decide_gate(services.store, stream_id, approve=action == "approve", decider=decider,
                              reason=reason)
        else:
            await resolve_escalation(services.store, stream_id, requeue=action == "requeue", decider=decider,
                                     reason=reason)
    except Rejected as exc:
        await interaction.response.send_message(f"Nothing to do: {exc}.", ephemeral=True)
        return
    except StoreUnavailable:
        await interaction.response.send_message("The event store is unavailable; try again shortly.",
                                                ephemeral=True)
        return
    suffix = f": {reason}" if reason else ""
    await interaction.response.send_message(f"{DONE_TEXT[action]} — {stream_id}{suffix}", ephemeral=True)
