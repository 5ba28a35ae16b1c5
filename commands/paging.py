"""Page buttons for long answers. State lives in the custom_id (``cnd:page:<kind>:<pos>:<arg>``),
so paging works after a restart; each click re-reads the store."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import discord

from .failures import answers_failures
from .formatting import Page
from .replies import defer_update, update

CUSTOM_ID_LIMIT = 100
Renderer = Callable[[discord.Interaction[Any], int, str], Awaitable[Page]]
RENDERERS: dict[str, Renderer] = {}  # kind -> page renderer, filled by the cogs


def page_view(kind: str, page: Page, arg: str) -> discord.ui.View | None:
    buttons = [(label, pos) for label, pos in (("◀ Newer" if kind == "stream" else "◀ Previous", page.previous),
                                              ("Older ▶" if kind == "stream" else "Next ▶", page.next))
               if pos is not None]
    ids = [f"cnd:page:{kind}:{pos}:{arg}" for _, pos in buttons]
    if not buttons or any(len(i) > CUSTOM_ID_LIMIT for i in ids):
        return None  # nothing to page, or the argument is too long to carry
    view = discord.ui.View(timeout=None)
    for (label, pos), _ in zip(buttons, ids, strict=True):
        view.add_item(PageButton(kind, pos, arg, label))
    return view


class PageButton(discord.ui.DynamicItem[discord.ui.Button[Any]],
                 template=r"cnd:page:(?P<kind>[a-z]+):(?P<pos>\d+):(?P<arg>.*)"):
    def __init__(self, kind: str, pos: int, arg: str, label: str = "Page") -> None:
        super().__init__(discord.ui.Button(label=label, style=discord.ButtonStyle.secondary,
                                           custom_id=f"cnd:page:{kind}:{pos}:{arg}"))
        self.kind, self.pos, self.arg = kind, pos, arg

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any],
                             match: Any) -> PageButton:
        return cls(match["kind"], int(match["pos"]), match["arg"])

    @answers_failures
    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        renderer = RENDERERS.get(self.kind)
        if renderer is None:
            await interaction.response.send_message("This list can no longer be paged.", ephemeral=True)
            return
        await defer_update(interaction)  # the page is read from the store
        page = await renderer(interaction, self.pos, self.arg)
        await update(interaction, page.content, page_view(self.kind, page, self.arg))
