"""/issue, /issues and /queue."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from eventstore.projections.issue_status import IssueState
from eventstore.streams import issue_stream_id

from .formatting import PAGE_SIZE, Page, issue_detail, issues_page
from .markdown import code
from .paging import RENDERERS, page_view
from .replies import defer, reply
from .services import BotServices, services_of

STATE_CHOICES = [app_commands.Choice(name=s.value, value=s.value) for s in IssueState]


async def _issues(interaction: discord.Interaction[Any], offset: int, arg: str) -> Page:
    state, _, repo = arg.partition("|")
    issues = await services_of(interaction).read_models.issues(state or None, repo or None, offset, PAGE_SIZE)
    title = "Issues" + (f" {state}" if state else "") + (f" in {repo}" if repo else "")
    return issues_page(issues, title)


async def _queue(interaction: discord.Interaction[Any], offset: int, arg: str) -> Page:
    return issues_page(await services_of(interaction).read_models.queue(offset, PAGE_SIZE), "Queue")


RENDERERS.update(issues=_issues, queue=_queue)


class IssuesCog(commands.Cog):
    def __init__(self, bot: commands.Bot, services: BotServices) -> None:
        self.bot = bot
        self.services = services

    @app_commands.command(name="issue", description="One issue: state, assignee, PR, gate, escalation, thread")
    @app_commands.describe(repo="owner/name", number="The issue number")
    async def issue(self, interaction: discord.Interaction[Any], repo: str, number: app_commands.Range[int, 1]) -> None:
        services = self.services
        stream_id = issue_stream_id(repo.strip(), number)
        await defer(interaction, ephemeral=False)
        found = await services.read_models.issue(stream_id)
        if found is None:
            await reply(interaction, f"No issue `{code(stream_id)}`.", ephemeral=True)
            return
        thread = await services.links.thread_for(stream_id)
        runs = await services.read_models.executions(found.repo, found.issue_number, limit=1)
        latest = runs.items[0] if runs.items else None
        await reply(interaction, issue_detail(found, thread[0] if thread else None, latest), ephemeral=False)

    @app_commands.command(name="issues", description="Issues, optionally by state and repo")
    @app_commands.choices(state=STATE_CHOICES)
    async def issues(self, interaction: discord.Interaction[Any], state: app_commands.Choice[str] | None = None,
                     repo: str | None = None) -> None:
        arg = f"{state.value if state else ''}|{(repo or '').strip()}"
        await defer(interaction, ephemeral=True)
        page = await _issues(interaction, 0, arg)
        await reply(interaction, page.content, view=page_view("issues", page, arg), ephemeral=True)

    @app_commands.command(name="queue", description="Unassigned issues in the order agents get them")
    async def queue(self, interaction: discord.Interaction[Any]) -> None:
        await defer(interaction, ephemeral=True)
        page = await _queue(interaction, 0, "")
        await reply(interaction, page.content, view=page_view("queue", page, ""), ephemeral=True)
