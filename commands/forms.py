"""Approve and Reject open a form (a Discord modal) for what the human writes with the decision.

Reject asks for the reason, required (the agent needs to know what to change). Approve asks for an
optional note rather than approving on the click: a gate guards a sensitive change (auth, payments,
a schema, data deletion), so a click that lands on the wrong button should not approve it, and the
form is where a note goes; it costs one more click. (``/gate approve`` decides at once.)

A form's custom_id carries the action and the issue (``cnd:decide:reject:owner/repo#42``), and its
submission is handled by that id (``DecisionForms``), like the buttons: the form is sent as a
finished Modal, so discord.py keeps nothing in memory for it, and a form opened before a restart
still decides after it.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from typing import Any

import discord
from discord.ext import commands

from eventstore.conductor import AlreadyDecided
from eventstore.projections.issue_status import IssueStatus
from eventstore.store import StoreUnavailable

from .decisions import REASON_MAX, act, already_text, refusal
from .failures import answers_failures
from .services import BotServices

CUSTOM_ID_LIMIT = 100
TITLE_LIMIT = 45
FIELD = "reason"
FORM_ID = re.compile(r"cnd:decide:(?P<action>approve|reject):(?P<ref>.+)")
# Before a form opens, a look at whether the gate is still open (so nobody writes a reason for a
# gate already decided); bounded, since a form cannot follow a defer and Discord waits 3 s.
PEEK_SECONDS = 1.0


def form_id(action: str, stream_id: str) -> str:
    candidate = f"cnd:decide:{action}:{stream_id}"
    # Too long for Discord: the submission finds the stream from the message the button is on.
    return candidate if len(candidate) <= CUSTOM_ID_LIMIT else f"cnd:decide:{action}:-"


def decision_form(action: str, stream_id: str) -> discord.ui.Modal:
    approve = action == "approve"
    title = f"{'Approve' if approve else 'Reject'} {stream_id}"
    modal = discord.ui.Modal(title=title if len(title) <= TITLE_LIMIT else title[: TITLE_LIMIT - 1] + "…",
                             custom_id=form_id(action, stream_id), timeout=None)
    field: discord.ui.TextInput[Any] = discord.ui.TextInput(
        custom_id=FIELD, style=discord.TextStyle.paragraph, required=not approve, min_length=0 if approve else 1,
        max_length=REASON_MAX,
        placeholder="Anything the agent or the team should know" if approve else "What must change before it can go in")
    modal.add_item(discord.ui.Label(text="Note (optional)" if approve else "Reason",
                                    description="Recorded with the decision and shown in the issue's thread",
                                    component=field))
    modal.stop()  # only the form: its submission is handled by its custom_id (DecisionForms)
    return modal


async def open_form(interaction: discord.Interaction[Any], services: BotServices, action: str,
                    stream_id: str) -> None:
    """A click on Approve or Reject: the form, unless the user may not decide or the gate is closed."""
    refused = refusal(interaction, services.guild_id, services.gate_role_id)
    if refused is None:
        refused = await _closed(services, stream_id)
    if refused is not None:
        await interaction.response.send_message(refused, ephemeral=True)
        return
    await interaction.response.send_modal(decision_form(action, stream_id))


async def _closed(services: BotServices, stream_id: str) -> str | None:
    try:
        issue: IssueStatus | None = await asyncio.wait_for(services.read_models.issue(stream_id), PEEK_SECONDS)
    except (TimeoutError, StoreUnavailable):
        return None  # the form opens; its submission decides, serialised, and says so if it is too late
    gate = issue.gate if issue is not None else None
    if gate is None or gate.open:
        return None
    return already_text(AlreadyDecided(stream_id, gate.decision, gate.decided_by, gate.decided_at), services.clock())


def submitted(data: Mapping[str, Any], custom_id: str) -> str | None:
    """What was typed into the input ``custom_id`` of a submitted form (None: no such input).
    Inputs sit in labels (``component``) or, in older layouts, in action rows (``components``)."""
    stack = list(data.get("components") or [])
    while stack:
        component = stack.pop()
        if component.get("custom_id") == custom_id and "value" in component:
            return str(component["value"] or "")
        stack.extend(component.get("components") or [])
        if isinstance(component.get("component"), Mapping):
            stack.append(component["component"])
    return None


class DecisionForms(commands.Cog):
    """Submissions of the decision forms, found by their custom_id."""

    def __init__(self, bot: commands.Bot, services: BotServices) -> None:
        self.bot = bot
        self.services = services

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction[Any]) -> None:
        if interaction.type is not discord.InteractionType.modal_submit:
            return
        data: Mapping[str, Any] = interaction.data or {}
        if FORM_ID.fullmatch(str(data.get("custom_id", ""))) is not None:
            await self._decide(interaction)

    @answers_failures
    async def _decide(self, interaction: discord.Interaction[Any]) -> None:
        data: Mapping[str, Any] = interaction.data or {}
        found = FORM_ID.fullmatch(str(data.get("custom_id", "")))
        assert found is not None
        stream_id = found["ref"]
        if stream_id == "-" and interaction.message is not None:
            stream_id = await self.services.links.stream_of_message(interaction.message.id) or ""
        # act checks the submitter again (who submits is who decides) and the reason, then decides.
        await act(interaction, self.services, found["action"], stream_id, submitted(data, FIELD))
