"""Human decisions from Discord (buttons and /gate): who may decide, and the answer they get.

Only members with the gate role, or with Manage Server, may decide; anyone else gets a private
refusal. The decision itself is a serialised use case (``eventstore.conductor``), so two clicks
at once give one decision and one "already decided". The panel message is edited by the notifier
when the event is delivered, the same way for every path that closes a gate.
"""

from __future__ import annotations

from typing import Any

import discord

from eventstore.conductor import decide_gate, resolve_escalation
from eventstore.store import Rejected, StoreUnavailable

from .services import services_of

DONE_TEXT = {"approve": "✅ Approved", "reject": "⛔ Rejected", "requeue": "🔁 Back in the queue",
             "close": "🛑 Closed"}


def may_decide(interaction: discord.Interaction[Any], gate_role_id: int | None) -> bool:
    user = interaction.user
    if isinstance(user, discord.Member):
        if gate_role_id is not None and any(r.id == gate_role_id for r in user.roles):
            return True
    permissions = interaction.permissions
    return bool(permissions.manage_guild or permissions.administrator)


async def act(interaction: discord.Interaction[Any], action: str, stream_id: str, reason: str | None) -> None:
    """Apply ``action`` (approve, reject, requeue, close) to the issue stream, if the user may."""
    services = services_of(interaction)
    if not may_decide(interaction, services.gate_role_id):
        await interaction.response.send_message(
            "Only members with the gate role (or Manage Server) can decide this.", ephemeral=True)
        return
    by = interaction.user.name
    try:
        if action in ("approve", "reject"):
            await decide_gate(services.store, stream_id, approve=action == "approve", decided_by=by, reason=reason)
        else:
            await resolve_escalation(services.store, stream_id, requeue=action == "requeue", decided_by=by,
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
