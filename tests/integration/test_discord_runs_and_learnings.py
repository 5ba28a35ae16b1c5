"""/issue shows the latest run; /learnings shows a repo's learnings (through the fake Discord)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from tests.fake_discord import FakeDiscord

from ..conftest import FakeClock
from .discord_harness import Rig, running_rig
from .test_discord_commands import ask

REPO = "acme/app"


@pytest.fixture
async def rig(fake: FakeDiscord, db: asyncpg.Pool, pg_server_dsn: str, clock: FakeClock) -> AsyncIterator[Rig]:
    async with running_rig(fake, pg_server_dsn, clock) as rig:
        yield rig


async def post(rig: Rig, path: str, body: object) -> dict:
    async with rig.http.post(f"{rig.url}{path}", json=body) as resp:
        assert resp.status in (200, 201), await resp.text()
        answer: dict = await resp.json()
        return answer


async def test_issue_shows_the_latest_runs_status_cost_and_turns(fake: FakeDiscord, rig: Rig, clock: FakeClock) -> None:
    await rig.post({"type": "ISSUE_APPROVED", "repo": REPO, "issueNumber": 7, "title": "Add auth"})
    text, _, _ = await ask(fake, "issue", {"repo": REPO, "number": 7})
    assert "Latest run" not in text
    first = await post(rig, "/api/execution-logs", {"repo": REPO, "issueNumber": 7, "agentId": "dev-e-1",
                                                    "status": "running", "model": "claude-sonnet-4", "steps": []})
    await post(rig, f"/api/execution-logs/{first['id']}/complete", {"status": "failed"})
    clock.advance(minutes=10)
    second = await post(rig, "/api/execution-logs", {"repo": REPO, "issueNumber": 7, "agentId": "dev-e-2/abc12",
                                                     "status": "running", "model": "claude-sonnet-4", "steps": []})
    await post(rig, f"/api/execution-logs/{second['id']}/steps", {"type": "llm", "status": "completed",
                                                                  "costUsd": 0.4, "turns": 5})
    text, _, _ = await ask(fake, "issue", {"repo": REPO, "number": 7})
    assert "Latest run: `running` · $0.40 so far · 5 turns · dev-e-2/abc12 · claude-sonnet-4" in text
    await post(rig, f"/api/execution-logs/{second['id']}/complete", {
        "status": "completed", "totalCostUsd": 1.25, "totalTurns": 42, "totalInputTokens": 1000,
        "totalOutputTokens": 200, "cacheReadTokens": 0, "cacheCreationTokens": 0, "durationApiMs": 9000,
        "prNumber": 88})
    text, _, _ = await ask(fake, "issue", {"repo": REPO, "number": 7})
    assert "Latest run: `completed` · $1.25 · 42 turns · dev-e-2/abc12 · claude-sonnet-4 · PR #88" in text
    assert text.index("Latest run") < text.index("Thread:")


async def test_learnings_of_a_repo(fake: FakeDiscord, rig: Rig) -> None:
    text, ephemeral, _ = await ask(fake, "learnings", {"repo": REPO})
    assert text == f"**Learnings for {REPO}**\nNone yet." and not ephemeral
    await post(rig, "/api/repo-learnings", {"repo": REPO, "key": "build-system", "value": "Node.js (package.json)",
                                            "agentId": "dev-e-1"})
    await post(rig, "/api/repo-learnings", {"repo": REPO, "key": "test_command", "value": "npm test **now**"})
    text, _, _ = await ask(fake, "learnings", {"repo": REPO})
    lines = text.splitlines()
    assert lines[0] == f"**Learnings for {REPO}** (2)"
    assert lines[1] == "• **build-system**: Node.js (package.json) — dev-e-1, 2026-04-02"
    # agent-supplied text cannot format the answer
    assert lines[2] == "• **test\\_command**: npm test \\*\\*now\\*\\* — 2026-04-02"
    text, ephemeral, _ = await ask(fake, "learnings", {"repo": "not a repo"})
    assert ephemeral and "not a repo" in text
