"""Human decisions from Discord (buttons, forms and /gate): who may decide, and the answer they get.

A decision counts only from the configured guild (``DISCORD_GUILD_ID``; without one, none is
taken), from a person (never a bot account, such as an agent's) holding the gate role or Manage
Server there; anyone else gets a private refusal and nothing is stored. The decision itself is a
serialised use case (``eventstore.conductor``), so two clicks at once give one decision and one
"already decided by …". It records the member's name and id and the channel (``discord``), and
what they wrote (a rejection's reason, which it must have; an approval's note). The panel message
is edited by the notifier when the event is delivered, the same way for every path that closes a
gate.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import discord

from eventstore.authorization import Decider
from eventstore.conductor import AlreadyDecided, decide_gate, resolve_escalation
from eventstore.store import Rejected

from .formatting import ago
from .markdown import text
from .replies import defer, reply
from .services import BotServices

DONE_TEXT = {"approve": "✅ Approved", "reject": "⛔ Rejected", "requeue": "🔁 Back in the queue",
             "close": "🛑 Closed"}
REASON_MAX = 1000  # what a human writes with a decision: a rejection's reason, an approval's note
NEEDS_REASON = "A rejection needs a reason, so the agent knows what to change: nothing was decided."


def refusal(interaction: discord.Interaction[Any], guild_id: int | None, gate_role_id: int | None) -> str | None:
    """Why the user may not decide here, or None if they may."""
    if guild_id is None:
        return "Gate decisions are off: the bot has no DISCORD_GUILD_ID to take them from."
    user = interaction.user
    if interaction.guild_id != guild_id or not isinstance(user, discord.Member):
        return "Gate decisions are taken only in the rig's own server."
    if user.bot or user.system:
        # Decisions come from people: an agent (or any bot) holding the role still cannot decide.
        return "Gate decisions are made by people, not by bot accounts."
    if gate_role_id is not None and any(r.id == gate_role_id for r in user.roles):
        return None
    permissions = interaction.permissions
    if permissions.manage_guild or permissions.administrator:
        return None
    return "Only members with the gate role (or Manage Server) can decide this."


def reason_problem(action: str, reason: str | None) -> str | None:
    """Why what the human wrote cannot go with ``action``, or None if it can."""
    if action == "reject" and not (reason or "").strip():
        return NEEDS_REASON
    if reason is not None and len(reason) > REASON_MAX:
        return f"That is {len(reason):,} characters; a decision's text holds at most {REASON_MAX:,}."
    return None


def already_text(exc: AlreadyDecided, now: datetime) -> str:
    when = f", {ago(exc.decided_at, now)}" if exc.decided_at is not None else ""
    if exc.decided_by:
        return f"Already decided by **{text(exc.decided_by)}** ({exc.decision}{when}): nothing changed."
    return f"Already closed ({exc.decision}{when}): nothing changed."


async def act(interaction: discord.Interaction[Any], services: BotServices, action: str, stream_id: str,
              reason: str | None) -> None:
    """Apply ``action`` (approve, reject, requeue, close) to the issue stream, if the user may."""
    refused = refusal(interaction, services.guild_id, services.gate_role_id) or reason_problem(action, reason)
    if refused is not None:
        await interaction.response.send_message(refused, ephemeral=True)
        return
    reason = reason.strip() if reason else None
    await defer(interaction, ephemeral=True)  # the decision waits for the append lock
    decider = Decider(name=interaction.user.name, via="discord", id=str(interaction.user.id))
    try:
        if action in ("approve", "reject"):
            await decide_gate(services.store, stream_id, approve=action == "approve", decider=decider,
                              reason=reason)
        else:
            await resolve_escalation(services.store, stream_id, requeue=action == "requeue", decider=decider,
                                     reason=reason)
    except AlreadyDecided as exc:
        await reply(interaction, already_text(exc, services.clock()), ephemeral=True)
        return
    except Rejected as exc:
        await reply(interaction, f"Nothing to do: {exc}.", ephemeral=True)
        return
    suffix = f": {text(reason)}" if reason else ""
    await reply(interaction, f"{DONE_TEXT[action]} — {stream_id}{suffix}", ephemeral=True)
