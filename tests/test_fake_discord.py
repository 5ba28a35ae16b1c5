"""Self-test of tests/fake_discord: the real discord.py client against the fake.

A tiny bot defined here exercises login, command sync, a slash command that
opens a thread with a persistent button, the click, subcommand groups,
autocomplete, a 429, an outage and a gateway RESUME.
"""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import AsyncIterator

import discord
import discord.gateway
import discord.http
import pytest
from discord import app_commands
from discord.ext import commands

from tests.fake_discord import (
    ADMIN_MEMBER,
    GATE_MEMBER,
    GATE_ROLE,
    PLAIN_MEMBER,
    FakeDiscord,
    redirect_discord_py,
)

RESOLVE_ID = "cnd:issue-resolve"


class IssuePanel(discord.ui.View):
    """Persistent: no timeout, fixed custom_id, registered in setup_hook."""

    def __init__(self, bot: TinyBot) -> None:
        super().__init__(timeout=None)
        self.bot = bot

    @discord.ui.button(label="Resolve", style=discord.ButtonStyle.success, custom_id=RESOLVE_ID)
    async def resolve(self, interaction: discord.Interaction, button: discord.ui.Button[IssuePanel]) -> None:
        self.bot.clicks.append(interaction)
        await interaction.response.edit_message(content=f"resolved by {interaction.user.name}", view=None)


class ApproveButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=r"cnd:gate-approve:(?P<repo>[\w-]+)#(?P<number>\d+)",
):
    """State lives in the custom_id, so the button survives restarts."""

    def __init__(self, repo: str, number: int) -> None:
        super().__init__(discord.ui.Button(label="Approve", custom_id=f"cnd:gate-approve:{repo}#{number}"))
        self.repo, self.number = repo, number

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[discord.ui.View], match: re.Match[str], /
    ) -> ApproveButton:
        return cls(match["repo"], int(match["number"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer()  # type 6: acknowledge, change nothing yet
        await interaction.edit_original_response(content=f"{self.repo}#{self.number} approved", view=None)


class NoteModal(discord.ui.Modal, title="Add a note"):
    text: discord.ui.TextInput[NoteModal] = discord.ui.TextInput(label="Note", custom_id="note:text")

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"noted: {self.text.value}")


gate = app_commands.Group(name="gate", description="Human gates")


@gate.command(name="approve", description="Approve a gated issue")
@app_commands.checks.has_permissions(manage_guild=True)
async def gate_approve(interaction: discord.Interaction, repo: str, number: int, reason: str) -> None:
    await interaction.response.send_message(f"approved {repo}#{number}: {reason}", ephemeral=True)


@gate_approve.autocomplete("repo")
async def repo_autocomplete(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    repos = ["conductor-e", "conductor-ui", "rig"]
    return [app_commands.Choice(name=r, value=r) for r in repos if r.startswith(current)]


class TinyBot(commands.Bot):
    def __init__(self, guild_id: str) -> None:
        intents = discord.Intents.default()
        intents.members = True  # so GUILD_CREATE's members are cached (the fake skips chunking)
        super().__init__(command_prefix="!", intents=intents, guild_ready_timeout=0.1)
        self.guild_object = discord.Object(int(guild_id))
        self.clicks: list[discord.Interaction] = []
        self.resumed = asyncio.Event()

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        return None  # the stock hook sleeps 5 s before every re-IDENTIFY

    async def setup_hook(self) -> None:
        self.add_view(IssuePanel(self))
        self.add_dynamic_items(ApproveButton)

        @app_commands.command(name="report", description="Report on a member")
        async def report(interaction: discord.Interaction, who: discord.Member) -> None:
            await interaction.response.defer(thinking=True)
            # The first followup after a thinking defer replaces the loading message.
            await interaction.followup.send(f"report for {who.name}", file=discord.File(io.BytesIO(b"42"), "r.txt"))
            await interaction.followup.send(f"roles: {[r.name for r in who.roles[1:]]}", ephemeral=True)
            await interaction.edit_original_response(content=f"report for {who.name} (edited)")
            view = discord.ui.View(timeout=None)
            view.add_item(ApproveButton("conductor-e", 9))
            await interaction.channel.send("gate pending", view=view)  # type: ignore[union-attr]

        @app_commands.command(name="note", description="Add a note")
        async def note(interaction: discord.Interaction) -> None:
            await interaction.response.send_modal(NoteModal())

        self.tree.add_command(report, guild=self.guild_object)
        self.tree.add_command(note, guild=self.guild_object)

        @app_commands.command(name="issue", description="Open an issue thread")
        async def issue(interaction: discord.Interaction, title: str, number: int) -> None:
            await interaction.response.send_message(f"Opening #{number}")
            message = await interaction.original_response()
            thread = await message.create_thread(name=f"#{number} {title}")
            await thread.send(f"Panel for #{number}", view=IssuePanel(self))

        self.tree.add_command(issue, guild=self.guild_object)  # guild-scoped
        self.tree.add_command(gate)  # global
        self.tree.on_error = self.on_tree_error
        await self.tree.sync(guild=self.guild_object)
        await self.tree.sync()

    async def on_tree_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        if isinstance(error, app_commands.MissingPermissions):
            await interaction.response.send_message("denied", ephemeral=True)
        else:
            raise error

    async def on_resumed(self) -> None:
        self.resumed.set()


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    base, gateway = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    async with FakeDiscord() as fake:
        with redirect_discord_py(fake):
            yield fake
        assert fake.errors == [], fake.errors
        assert fake.unhandled == [], fake.unhandled
    # The redirect is undone for the next test (and for other test modules).
    assert discord.http.Route.BASE == base
    assert discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY == gateway


@pytest.fixture
async def bot(fake: FakeDiscord) -> AsyncIterator[TinyBot]:
    bot = TinyBot(fake.guild_id)
    runner = asyncio.create_task(bot.start("fake-token"))
    ready = asyncio.create_task(bot.wait_until_ready())
    # Whichever comes first: on_ready, or start() dying (a fake bug kills it).
    done, _ = await asyncio.wait({runner, ready}, timeout=5, return_when=asyncio.FIRST_COMPLETED)
    if runner in done:
        ready.cancel()
        runner.result()  # raises the bot's error
    assert ready in done, "bot not ready within 5 s\n" + fake.describe()
    await fake.wait_ready()
    try:
        yield bot
    finally:
        await bot.close()
        await runner


async def test_login_and_sync_reach_the_fake(fake: FakeDiscord, bot: TinyBot) -> None:
    paths = [(r.method, r.path) for r in fake.requests]
    assert paths[:2] == [("GET", "/users/@me"), ("GET", "/oauth2/applications/@me")]
    assert ("PUT", f"/applications/{fake.application_id}/guilds/{fake.guild_id}/commands") in paths
    assert ("PUT", f"/applications/{fake.application_id}/commands") in paths

    by_name = {c["name"]: c for c in fake.synced_commands(fake.guild_id)}
    assert sorted(by_name) == ["issue", "note", "report"]
    issue = by_name["issue"]
    assert issue["name"] == "issue" and issue["guild_id"] == fake.guild_id
    assert [(o["name"], o["type"], o["required"]) for o in issue["options"]] == [
        ("title", 3, True),
        ("number", 4, True),
    ]
    (gate_cmd,) = fake.synced_commands()
    assert gate_cmd["options"][0]["name"] == "approve" and gate_cmd["options"][0]["type"] == 1

    assert fake.identify_count == 1 and fake.gateway.identify_payloads[0]["token"] == "fake-token"
    assert bot.user is not None and str(bot.user.id) == fake.bot_user_id
    assert bot.application_id == int(fake.application_id)
    guild = bot.get_guild(int(fake.guild_id))
    assert guild is not None and guild.member_count == len(fake.members)
    keeper = guild.get_member(int(fake.member(GATE_MEMBER).id or 0))
    assert keeper is not None and [r.name for r in keeper.roles[1:]] == [GATE_ROLE]
    assert isinstance(bot.get_channel(int(fake.channel_id)), discord.TextChannel)


async def test_slash_command_opens_thread_and_button_click_is_handled(fake: FakeDiscord, bot: TinyBot) -> None:
    command = await fake.slash_command("issue", {"title": "Flaky CI", "number": 42})
    callback = await fake.wait_callback(command)
    assert callback.type == 4 and not callback.ephemeral
    assert callback.data["content"] == "Opening #42"

    thread = await fake.wait_for(lambda: fake.thread_by_name("#42 Flaky CI"))
    assert thread["parent_id"] == fake.channel_id and thread["id"] == callback.message["id"]  # type: ignore[index]
    assert thread["thread_metadata"]["archived"] is False
    panel = await fake.wait_for(lambda: fake.messages_in(thread["id"]))
    assert panel[0]["content"] == "Panel for #42"
    assert panel[0]["components"][0]["components"][0]["custom_id"] == RESOLVE_ID

    click = await fake.click_button(panel[0], RESOLVE_ID, user=ADMIN_MEMBER)
    clicked = await fake.wait_callback(click)
    assert clicked.type == 7
    assert fake.messages_in(thread["id"])[0]["content"] == "resolved by admin"
    assert fake.messages_in(thread["id"])[0]["components"] == []

    # The click came from the thread, and THREAD_CREATE made the thread known to the cache.
    (interaction,) = bot.clicks
    assert isinstance(interaction.channel, discord.Thread) and interaction.channel.id == int(thread["id"])
    assert isinstance(bot.get_channel(int(thread["id"])), discord.Thread)


async def test_subcommand_group_permissions_and_autocomplete(fake: FakeDiscord, bot: TinyBot) -> None:
    options = {"repo": "conductor-e", "number": 7, "reason": "schema change reviewed"}
    approved = await fake.wait_callback(await fake.slash_command("gate approve", options, user=ADMIN_MEMBER))
    assert approved.type == 4 and approved.ephemeral
    assert approved.data["content"] == "approved conductor-e#7: schema change reviewed"

    denied = await fake.wait_callback(
        await fake.slash_command("gate", options, user=PLAIN_MEMBER, subcommand="approve")
    )
    assert denied.data["content"] == "denied"

    suggestions = await fake.wait_callback(await fake.autocomplete("gate approve", "repo", "conductor"))
    assert suggestions.type == 8
    assert [c["value"] for c in suggestions.data["choices"]] == ["conductor-e", "conductor-ui"]


async def test_429_is_retried(fake: FakeDiscord, bot: TinyBot) -> None:
    channel = bot.get_channel(int(fake.channel_id))
    assert isinstance(channel, discord.TextChannel)
    fake.fail_next(1, status=429, retry_after=0.05, match=r"^POST /channels/\d+/messages$")

    sent = await channel.send("after a rate limit")

    assert sent.content == "after a rate limit"
    assert len(fake.requests_to("POST", f"/channels/{fake.channel_id}/messages")) == 2
    assert fake.failure_counts == {"POST /channels/{channel_id}/messages": 1}
    assert [m["content"] for m in fake.messages_in(fake.channel_id)] == ["after a rate limit"]


async def test_outage_then_recovery(fake: FakeDiscord, bot: TinyBot) -> None:
    channel = bot.get_channel(int(fake.channel_id))
    assert isinstance(channel, discord.TextChannel)
    fake.set_outage(True)
    with pytest.raises(discord.DiscordServerError):
        await channel.send("during the outage")
    with pytest.raises(discord.DiscordServerError):
        await bot.fetch_channel(int(fake.channel_id))
    fake.set_outage(False)

    sent = await channel.send("after the outage")

    assert sent.content == "after the outage"
    assert fake.failure_counts == {"POST /channels/{channel_id}/messages": 1, "GET /channels/{channel_id}": 1}
    assert [m["content"] for m in fake.messages_in(fake.channel_id)] == ["after the outage"]


async def test_resume_after_drop_replays_missed_events(fake: FakeDiscord, bot: TinyBot) -> None:
    await fake.drop_gateway(code=4000)
    # drop_gateway() returns with the bot away, so this is buffered and replayed on RESUME.
    command = await fake.slash_command("issue", {"title": "Missed", "number": 1})

    callback = await fake.wait_callback(command)
    assert callback.data["content"] == "Opening #1"
    await fake.wait_for(lambda: (t := fake.thread_by_name("#1 Missed")) and fake.messages_in(t["id"]))
    await fake.wait_for(lambda: fake.resume_count == 1)
    await asyncio.wait_for(bot.resumed.wait(), 5)
    assert [f["t"] for f in fake.gateway.replayed] == ["INTERACTION_CREATE"]
    assert fake.identify_count == 1 and fake.gateway.connection_count == 2


async def test_refused_resume_makes_the_bot_identify_again(fake: FakeDiscord, bot: TinyBot) -> None:
    await fake.drop_gateway(code=4000, refuse_resume=True)
    await fake.wait_for(lambda: fake.gateway.ready_count == 2 and fake.gateway.ready)

    callback = await fake.wait_callback(await fake.slash_command("issue", {"title": "Again", "number": 2}))
    assert callback.type == 4 and fake.identify_count == 2 and fake.resume_count == 0
    # Let the handler finish (thread + panel) before the bot is closed.
    await fake.wait_for(lambda: (t := fake.thread_by_name("#2 Again")) and fake.messages_in(t["id"]))


async def test_thread_unarchive_and_followups(fake: FakeDiscord, bot: TinyBot) -> None:
    channel = bot.get_channel(int(fake.channel_id))
    assert isinstance(channel, discord.TextChannel)
    thread = await channel.create_thread(name="standalone", type=discord.ChannelType.public_thread)
    await fake.archive_thread(thread.id)
    assert fake.threads[str(thread.id)]["thread_metadata"]["archived"] is True

    await thread.edit(archived=False)

    assert fake.threads[str(thread.id)]["thread_metadata"]["archived"] is False
    patch = fake.requests_to("PATCH", f"/channels/{thread.id}")[-1]
    assert patch.json["archived"] is False


async def test_defer_followups_files_and_dynamic_buttons(fake: FakeDiscord, bot: TinyBot) -> None:
    keeper = fake.member(GATE_MEMBER)
    command = await fake.slash_command("report", {"who": keeper}, user=ADMIN_MEMBER)

    deferred = await fake.wait_callback(command)
    assert deferred.type == 5 and deferred.message is not None
    pending = await fake.wait_for(
        lambda: [m for m in fake.messages_in(fake.channel_id) if m["content"] == "gate pending"]
    )
    original, roles = [m for m in fake.messages_in(fake.channel_id) if m["type"] == 20]
    assert original["id"] == deferred.message["id"]
    assert original["content"] == "report for gatekeeper (edited)"
    assert original["attachments"][0]["filename"] == "r.txt" and original["attachments"][0]["size"] == 2
    assert roles["content"] == f"roles: {[GATE_ROLE]!r}" and roles["flags"] & 64

    click = await fake.click_button(pending[0], "cnd:gate-approve:conductor-e#9", user=GATE_MEMBER)
    assert (await fake.wait_callback(click)).type == 6
    await fake.wait_for(lambda: fake.message(pending[0]["id"])["content"] == "conductor-e#9 approved")
    assert fake.message(pending[0]["id"])["components"] == []


async def test_modal_submit(fake: FakeDiscord, bot: TinyBot) -> None:
    command = await fake.slash_command("note", user=PLAIN_MEMBER)
    modal = await fake.wait_callback(command)
    assert modal.type == 9 and modal.data["title"] == "Add a note"

    submitted = await fake.wait_callback(await fake.submit_modal(command, {"note:text": "ship it"}))

    assert submitted.type == 4 and submitted.data["content"] == "noted: ship it"
