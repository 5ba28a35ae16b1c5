"""The one ``on_error`` of every slash command, button and form: a failure is logged once and
answered privately ("Could not do that: …") instead of Discord's "The application did not respond".

The command tree's error handler is this (``bot.discord.client``); buttons (``DynamicItem``s,
whose errors discord.py only logs) and forms run their work through ``answers_failures``.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import discord
from discord import app_commands

from eventstore.store import StoreUnavailable, Unstorable

from .replies import reply

log = logging.getLogger(__name__)

S = TypeVar("S")
Callback = Callable[[S, discord.Interaction[Any]], Coroutine[Any, Any, None]]


async def answer_failure(interaction: discord.Interaction[Any], error: Exception) -> None:
    """Log ``error`` once and tell the user privately what could not be done."""
    error = _cause(error)
    what = describe(interaction)
    if isinstance(error, StoreUnavailable):
        log.warning("%s failed: the event store is unavailable (%s)", what, error)
        reason = "the event store is unavailable; try again in a moment"
    elif isinstance(error, Unstorable):
        log.info("%s refused by the database: %s", what, error)
        reason = "the database refuses that input (a NUL character, say)"
    elif isinstance(error, app_commands.CheckFailure | app_commands.CommandSignatureMismatch
                    | app_commands.TransformerError):
        log.info("%s refused: %s", what, error)
        reason = str(error)
    elif isinstance(error, discord.HTTPException):
        log.warning("%s failed: Discord answered %s %s", what, error.status, error.text)
        reason = f"Discord refused it ({error.status})"
    else:
        log.error("%s failed", what, exc_info=error)
        reason = f"an unexpected error ({type(error).__name__}; reference {interaction.id} in the log)"
    await _tell(interaction, f"Could not do that: {reason}.")


def answers_failures(callback: Callback[S]) -> Callback[S]:
    """For a button's or a form's callback: a failure is answered as a command's would be."""

    @functools.wraps(callback)
    async def guarded(self: S, interaction: discord.Interaction[Any]) -> None:
        try:
            await callback(self, interaction)
        except Exception as exc:  # the answer above, and one log line; never "did not respond"
            await answer_failure(interaction, exc)

    return guarded


def describe(interaction: discord.Interaction[Any]) -> str:
    """``/issue by alice`` or ``button cnd:approve:… by alice``, for the log."""
    command = interaction.command
    data: dict[str, Any] = dict(interaction.data or {})
    if command is not None:
        name = f"/{command.qualified_name}"
    elif interaction.type is discord.InteractionType.modal_submit:
        name = f"form {data.get('custom_id', '?')}"
    else:
        name = f"button {data.get('custom_id', '?')}"
    return f"{name} by {interaction.user} (interaction {interaction.id})"


def _cause(error: Exception) -> Exception:
    original = getattr(error, "original", None)  # CommandInvokeError wraps what the command raised
    return original if isinstance(original, Exception) else error


async def _tell(interaction: discord.Interaction[Any], message: str) -> None:
    try:
        await reply(interaction, message, ephemeral=True)  # never in a public "thinking…"
    except discord.HTTPException as exc:  # the interaction expired, or Discord is down: logged above
        log.warning("could not tell %s that it failed (%s)", describe(interaction), exc)
