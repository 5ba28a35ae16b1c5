"""Buttons that survive restarts: ``DynamicItem``s whose custom_id carries the action and the
issue stream (``cnd:approve:owner/repo#42``). Registered in ``setup_hook``; the state they act on
is in the store, not in the bot's memory. Approve and Reject open the decision's form
(``forms``); Back to queue and Close issue decide on the click.
"""

from __future__ import annotations

from typing import Any

import discord

from .decisions import act
from .failures import answers_failures
from .forms import open_form
from .services import services_of

CUSTOM_ID_LIMIT = 100
_BUTTONS: dict[str, dict[str, tuple[str, discord.ButtonStyle]]] = {
    "gate": {"approve": ("Approve", discord.ButtonStyle.success), "reject": ("Reject", discord.ButtonStyle.danger)},
    "escalation": {"requeue": ("Back to queue", discord.ButtonStyle.primary),
                   "close": ("Close issue", discord.ButtonStyle.secondary)},
}
ACTIONS = {action: panel for panel, buttons in _BUTTONS.items() for action in buttons}


def custom_id(action: str, stream_id: str) -> str:
    candidate = f"cnd:{action}:{stream_id}"
    # Too long for Discord: the handler then finds the stream from the message the button is on.
    return candidate if len(candidate) <= CUSTOM_ID_LIMIT else f"cnd:{action}:-"


class PanelButton(discord.ui.DynamicItem[discord.ui.Button[Any]],
                  template=r"cnd:(?P<action>approve|reject|requeue|close):(?P<ref>.+)"):
    def __init__(self, action: str, ref: str, *, disabled: bool = False) -> None:
        label, style = _BUTTONS[ACTIONS[action]][action]
        super().__init__(discord.ui.Button(label=label, style=style, custom_id=custom_id(action, ref),
                                           disabled=disabled))
        self.action = action
        self.ref = ref

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any],
                             match: Any) -> PanelButton:
        return cls(match["action"], match["ref"])

    @answers_failures
    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        # discord.py makes buttons from their custom_id: they find the services on the client.
        services = services_of(interaction)
        stream_id = self.ref
        if stream_id == "-" and interaction.message is not None:
            stream_id = await services.links.stream_of_message(interaction.message.id) or ""
        if self.action in ("approve", "reject"):
            await open_form(interaction, services, self.action, stream_id)
        else:
            await act(interaction, services, self.action, stream_id, reason=None)


def panel_view(panel: str | None, stream_id: str, *, disabled: bool = False) -> discord.ui.View | None:
    if panel is None:
        return None
    view = discord.ui.View(timeout=None)
    for action in _BUTTONS[panel]:
        view.add_item(PanelButton(action, stream_id, disabled=disabled))
    return view
