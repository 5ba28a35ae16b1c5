"""Slash commands through the fake Discord: what each answer says, and paging."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from tests.fake_discord import PLAIN_MEMBER, FakeDiscord

from ..conftest import FakeClock
from .discord_harness import Rig, running_rig

REPO = "acme/app"



@pytest.fixture
async def rig(fake: FakeDiscord, db: asyncpg.Pool, pg_server_dsn: str, clock: FakeClock) -> AsyncIterator[Rig]:
    async with running_rig(fake, pg_server_dsn, clock) as rig:
        yield rig


async def ask(fake: FakeDiscord, name: str, options: dict | None = None) -> tuple[str, bool, list]:
    interaction = await fake.slash_command(name, options or {}, user=PLAIN_MEMBER)
    answer = await fake.wait_answer(interaction)
    return answer.content, answer.ephemeral, answer.buttons


async def test_commands_are_synced_to_the_guild(fake: FakeDiscord, rig: Rig) -> None:
    names = sorted(c["name"] for c in fake.synced_commands(fake.guild_id))
    assert names == ["agent", "agents", "digest", "gate", "issue", "issues", "learnings", "queue", "route", "stats",
                     "stream"]
    assert fake.synced_commands() == []  # nothing global


async def test_agents_overview_and_one_agent(fake: FakeDiscord, rig: Rig, clock: FakeClock) -> None:
    await rig.post({"type": "HEARTBEAT", "agentId": "dev-e-1", "status": "working", "activeProvider": "anthropic",
                    "providers": [{"name": "openai", "status": "cooldown"}],
                    "integrations": [{"name": "github", "status": "missing_auth", "details": "token expired"}]})
    clock.advance(minutes=5)
    await rig.post({"type": "HEARTBEAT", "agentId": "review-e", "status": "idle"})
    text, ephemeral, _ = await ask(fake, "agents")
    assert not ephemeral
    assert text.startswith("**2 agents, 1 online**")
    # (agent-supplied text has its markdown escaped: Discord shows "missing_auth")
    assert "⚫ **dev-e-1** — working · anthropic · ⚠️ openai: cooldown, github: missing\\_auth" in text
    assert "🟢 **review-e** — idle" in text
    detail, _, _ = await ask(fake, "agent", {"id": "dev-e-1"})
    assert "Last heartbeat: 5 min ago" in detail and "integration **github**: missing\\_auth — token expired" in detail
    missing, ephemeral, _ = await ask(fake, "agent", {"id": "ghost"})
    assert missing == "No agent `ghost`." and ephemeral
    complete = await fake.autocomplete("agent", "id", "rev", user=PLAIN_MEMBER)
    choices = (await fake.wait_callback(complete)).data["choices"]
    assert [c["value"] for c in choices] == ["review-e"]


async def test_issue_issues_and_queue(fake: FakeDiscord, rig: Rig) -> None:
    await rig.post({"type": "ISSUE_APPROVED", "repo": REPO, "issueNumber": 7, "title": "Add auth", "priority": "high"})
    await rig.post({"type": "PR_CREATED", "repo": REPO, "issueNumber": 7, "prNumber": 88, "prUrl": "https://x/88"})
    await rig.post({"type": "HUMAN_GATE_TRIGGERED", "repo": REPO, "issueNumber": 7, "reason": "auth"})
    for n in range(10, 25):
        await rig.post({"type": "ISSUE_APPROVED", "repo": REPO, "issueNumber": n, "title": f"task {n}"})
    await fake.wait_for(lambda: len(fake.threads) == 16, timeout=10)
    text, _, _ = await ask(fake, "issue", {"repo": REPO, "number": 7})
    assert text.splitlines()[0] == "**acme/app#7** Add auth"
    assert "State: `in_review` · priority high" in text and "PR #88" in text and "Gate: open — auth" in text
    thread_id = next(t["id"] for t in fake.threads.values() if t["name"].startswith("acme/app#7 "))
    assert f"Thread: <#{thread_id}>" in text
    interaction = await fake.slash_command("issues", {"state": "queued"}, user=PLAIN_MEMBER)
    answer = await fake.wait_answer(interaction)
    assert answer.first_type == 5  # deferred: it reads the store
    assert answer.ephemeral and answer.content.startswith("**Issues queued** (1–10 of 15)")
    [next_page] = answer.buttons
    assert next_page["label"] == "Next ▶" and answer.message is not None
    page = await fake.wait_answer(await fake.click_button(answer.message, next_page["custom_id"]))
    assert page.first_type == 6 and page.content.startswith("**Issues queued** (11–15 of 15)")
    text, _, _ = await ask(fake, "queue")
    assert text.startswith("**Queue** (1–10 of 15)") and "acme/app#10" in text


async def test_stream_newest_first_with_paging(fake: FakeDiscord, rig: Rig) -> None:
    for n in range(1, 24):
        await rig.post({"type": "REVIEW_DISPUTED", "repo": REPO, "issueNumber": 3, "attempt": n, "reason": f"r{n}"})
    interaction = await fake.slash_command("stream", {"id": f"{REPO}#3"}, user=PLAIN_MEMBER)
    answer = await fake.wait_answer(interaction)
    assert answer.content.startswith(f"**{REPO}#3** — events 14–23 of 23, newest first")
    lines = answer.content.splitlines()[1:]
    assert lines[0].startswith("`v23`") and lines[-1].startswith("`v14`")
    [older] = answer.buttons
    assert older["label"] == "Older ▶"
    message = answer.message
    assert message is not None
    click = await fake.click_button(message, older["custom_id"], user=PLAIN_MEMBER)
    page = await fake.wait_answer(click)
    assert page.content.startswith(f"**{REPO}#3** — events 4–13 of 23")
    assert [b["label"] for b in page.buttons] == ["◀ Newer", "Older ▶"]
    text, _, _ = await ask(fake, "stream", {"id": "nope"})
    assert text == "No events on `nope`."


async def test_stats(fake: FakeDiscord, rig: Rig) -> None:
    for tool, ms in (("Bash", 100), ("Bash", 300), ("Read", 10)):
        await rig.post({"type": "TOOL_USED", "agentId": "dev-e-1", "repo": REPO, "issueNumber": 1, "toolName": tool,
                        "durationMs": ms, "isMcp": tool == "Read"})
    for used in (True, False, True):
        await rig.post({"Type": "MEMORY_HIT_USED", "MemoryId": "m", "AgentId": "dev-e-1", "UsedInOutput": used})
    await rig.post({"type": "TOKEN_USAGE", "agentId": "dev-e-1", "repo": REPO, "issueNumber": 1, "model": "m",
                    "inputTokens": 1000, "outputTokens": 200, "costUsd": 1.25, "category": "work"})
    await rig.post({"type": "TOKEN_USAGE", "agentId": "dev-e-2", "repo": "", "issueNumber": 0, "costUsd": 0.5})
    tools, ephemeral, _ = await ask(fake, "stats tools", {"repo": REPO})
    assert ephemeral and tools.splitlines()[1] == "1. **Bash** (acme/app) — 2 uses · avg 200 ms · 0 MCP"
    memory, _, _ = await ask(fake, "stats memory")
    assert "• **dev-e-1** — 66.7% (2 of 3)" in memory
    cost, _, _ = await ask(fake, "stats cost")
    assert cost.startswith("**LLM cost: $1.75 in all**")
    assert "• **dev-e-1** — $1.25 · 1,000 in / 200 out · 1 turns" in cost
    assert "• **acme/app#1** — $1.25 · 1 turns" in cost and "dev-e-2** — $0.50" in cost
