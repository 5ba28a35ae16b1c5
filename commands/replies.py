"""Answering within Discord's 3 s window: whatever reads or writes the store defers first (Discord
shows "thinking…"), then answers once. A database that is slow, or a decision that waits for the
append lock, then costs the user a moment, never a "did not respond".
"""

from __future__ import annotations

import contextlib
from typing import Any

import discord

PRIVATE = "conductor-e:private"  # interaction.extras: whether the deferred answer is private


async def defer(interaction: discord.Interaction[Any], *, ephemeral: bool) -> None:
    """Acknowledge now; ``reply`` then gives the answer (private if ``ephemeral``: the defer fixes it)."""
    if not interaction.response.is_done():
        interaction.extras[PRIVATE] = ephemeral
        await interaction.response.defer(ephemeral=ephemeral, thinking=True)


async def defer_update(interaction: discord.Interaction[Any]) -> None:
    """Acknowledge a click that edits its own message; ``update`` then edits it."""
    if not interaction.response.is_done():
        await interaction.response.defer()


async def reply(interaction: discord.Interaction[Any], content: str, *, ephemeral: bool,
                view: discord.ui.View | None = None) -> None:
    """The answer: the response itself, or, once deferred, the followup that replaces "thinking…".
    A private answer after a public "thinking…" (a command that found nothing, say) removes that
    first, so the answer stays private."""
    sent_view: Any = view if view is not None else discord.utils.MISSING
    response = interaction.response
    if not response.is_done():
        await response.send_message(content, ephemeral=ephemeral, view=sent_view)
        return
    if ephemeral and response.type is discord.InteractionResponseType.deferred_channel_message \
            and not interaction.extras.get(PRIVATE, True):
        with contextlib.suppress(discord.NotFound):
            await interaction.delete_original_response()
    await interaction.followup.send(content, ephemeral=ephemeral, view=sent_view)


async def update(interaction: discord.Interaction[Any], content: str, view: discord.ui.View | None) -> None:
    """Edit the message whose button was clicked (``view`` None: no buttons left)."""
    if interaction.response.is_done():
        await interaction.edit_original_response(content=content, view=view)
    else:
        await interaction.response.edit_message(content=content, view=view)
