"""The board: in each issue channel one message, edited in place, listing what needs a human now."""

from __future__ import annotations

from typing import Any

import asyncpg

from bot.discord.board import BOARD_MARK
from tests.fake_discord import FakeDiscord

from ..conftest import OPERATOR, FakeClock
from .discord_harness import Rig, running_rig, thread_messages

REPO = "acme/app"


def board_in(fake: FakeDiscord, channel: str) -> dict[str, Any] | None:
    boards = [m for m in fake.messages_in(channel) if m["content"].startswith(BOARD_MARK)]
    assert len(boards) <= 1, boards
    return boards[0] if boards else None


async def board_shows(fake: FakeDiscord, channel: str, *parts: str, absent: tuple[str, ...] = ()) -> str:
    def shown() -> str | None:
        board = board_in(fake, channel)
        text = board["content"] if board else ""
        return text if board and all(p in text for p in parts) and not any(a in text for a in absent) else None

    try:
        return await fake.wait_for(shown, timeout=10, what=f"the board showing {parts} and not {absent}")
    except TimeoutError as exc:
        board = board_in(fake, channel)
        raise AssertionError(f"{exc}\nthe board: {board['content'] if board else None!r}") from None


def board_writes(fake: FakeDiscord, channel: str) -> list[Any]:
    board = board_in(fake, channel)
    assert board is not None
    return fake.requests_to("PATCH", f"/channels/{channel}/messages/{board['id']}")


def thread_id(fake: FakeDiscord, stream: str) -> str:
    [thread] = [t["id"] for t in fake.threads.values() if t["name"].startswith(stream)]
    return str(thread)


async def operator(rig: Rig, body: dict[str, Any]) -> None:
    async with rig.http.post(f"{rig.url}/api/events", json=body, headers=OPERATOR) as resp:
        assert resp.status == 201, await resp.text()


async def test_the_board_lists_gates_escalations_stuck_agents_and_drops_what_closes(
        fake: FakeDiscord, db: asyncpg.Pool, pg_server_dsn: str, clock: FakeClock) -> None:
    channel = fake.channel_id
    async with running_rig(fake, pg_server_dsn, clock, discord_board_seconds=1.0) as rig:
        await board_shows(fake, channel, "Nothing waits for a human")
        await fake.wait_for(lambda: (board := board_in(fake, channel)) and board["pinned"], what="the board pinned")
        for n in (7, 8):
            await rig.post({"type": "ISSUE_APPROVED", "repo": REPO, "issueNumber": n, "title": f"task {n}"})
        clock.advance(minutes=1)
        await rig.post({"type": "HUMAN_GATE_TRIGGERED", "repo": REPO, "issueNumber": 8, "reason": "schema change"})
        clock.advance(minutes=5)
        await rig.post({"type": "HUMAN_GATE_TRIGGERED", "repo": REPO, "issueNumber": 7, "reason": "touches auth"})
        await rig.post({"type": "ISSUE_APPROVED", "repo": REPO, "issueNumber": 9, "title": "flaky"})
        await rig.post({"type": "SMOKE_FAILED", "repo": REPO, "issueNumber": 9, "reason": "external_dependency"})
        await rig.post({"type": "AGENT_STUCK", "repo": REPO, "issueNumber": 9, "agentId": "dev-e-3",
                        "reason": "no progress"})
        text = await board_shows(fake, channel, "Open gates**, oldest first (2)", "**Escalated** (1)", "**Stuck agents** (1)",
                                 "**dev-e-3** on acme/app#9: no progress")
        assert text.index("acme/app#8") < text.index("acme/app#7") < text.index("Escalated")  # oldest first
        since = int((clock.now.timestamp() - 300 - 60) // 1)
        assert f"waiting since <t:{since + 60}:R>" in text and f"<#{thread_id(fake, f'{REPO}#8')}>" in text

        await operator(rig, {"type": "HUMAN_GATE_APPROVED", "repo": REPO, "issueNumber": 8, "reason": "ok"})
        await board_shows(fake, channel, "Open gates**, oldest first (1)", "touches auth", absent=("schema change",))
        await rig.post({"type": "HEARTBEAT", "agentId": "dev-e-3/pod1", "status": "idle"})  # back: not stuck
        await board_shows(fake, channel, "Open gates", absent=("Stuck agents",))
        await operator(rig, {"type": "ISSUE_CLOSED", "repo": REPO, "issueNumber": 9})
        await rig.post({"type": "MERGED", "repo": REPO, "issueNumber": 7})
        await board_shows(fake, channel, "Nothing waits for a human")
        writes = board_writes(fake, channel)
        assert all(b.at - a.at >= 1.0 for a, b in zip(writes, writes[1:], strict=False))  # one per second at most
        assert sum(1 for r in fake.requests_to("POST", f"/channels/{channel}/messages")
                   if r.json["content"].startswith(BOARD_MARK)) == 1  # edited, never posted again


async def test_a_parked_delivery_is_on_the_board_until_it_goes_through(
        fake: FakeDiscord, db: asyncpg.Pool, pg_server_dsn: str, clock: FakeClock) -> None:
    channel = fake.channel_id
    async with running_rig(fake, pg_server_dsn, clock, discord_board_seconds=1.0, discord_retry_seconds=3.0) as rig:
        await rig.post({"type": "ISSUE_APPROVED", "repo": REPO, "issueNumber": 7, "title": "t"})
        await fake.wait_for(lambda: thread_messages(fake, f"{REPO}#7"))
        thread = thread_id(fake, f"{REPO}#7")
        fake.fail_next(1, status=403, match=rf"^POST /channels/{thread}/messages$")
        await rig.post({"type": "CI_PASSED", "repo": REPO, "issueNumber": 7})
        await board_shows(fake, channel, "Parked deliveries", "acme/app#7", "403", f"<#{thread}>")
        await fake.wait_for(lambda: len(thread_messages(fake, f"{REPO}#7")) == 2, timeout=10, what="the retry")
        await board_shows(fake, channel, "Nothing waits for a human")


async def test_every_issue_channel_has_its_board_and_a_restart_edits_them(
        db: asyncpg.Pool, pg_server_dsn: str, clock: FakeClock) -> None:
    async with FakeDiscord(extra_channels=["pay"]) as fake:
        pay = fake.channel_named("pay")
        routes = {"acme/pay": int(pay)}
        async with running_rig(fake, pg_server_dsn, clock, discord_repo_channels=routes) as rig:
            await rig.post({"type": "ISSUE_APPROVED", "repo": "acme/pay", "issueNumber": 1, "title": "t"})
            await rig.post({"type": "HUMAN_GATE_TRIGGERED", "repo": "acme/pay", "issueNumber": 1, "reason": "payments"})
            await board_shows(fake, pay, "acme/pay", "payments")
            await board_shows(fake, fake.channel_id, "every repo without a channel of its own",
                              "Nothing waits for a human")
            boards = {c: board_in(fake, c)["id"] for c in (pay, fake.channel_id)}  # type: ignore[index]
        async with running_rig(fake, pg_server_dsn, clock, discord_repo_channels=routes) as rig:
            await operator(rig, {"type": "HUMAN_GATE_REJECTED", "repo": "acme/pay", "issueNumber": 1, "reason": "no"})
            await board_shows(fake, pay, "Nothing waits for a human")
            assert {c: board_in(fake, c)["id"] for c in boards} == boards  # type: ignore[index]
            assert board_writes(fake, pay)  # edited in place
        posted = [r for r in fake.requests_to("POST", "/messages") if r.json["content"].startswith(BOARD_MARK)]
        assert len(posted) == 2  # one board per channel, across the restart
        assert await db.fetchval("SELECT count(*) FROM ce_discord_boards") == 2
