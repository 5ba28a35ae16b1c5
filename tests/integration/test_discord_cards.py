"""Status cards with the real discord.py client against the fake Discord: one card per thread, its
first message, edited in place (debounced) through the issue's life, and after a restart."""

from __future__ import annotations

from typing import Any

import asyncpg

from bot.discord.status_card import CARD_MARK
from tests.fake_discord import FakeDiscord
from tests.fake_discord.models import BOT_PERMISSIONS, MANAGE_MESSAGES

from ..conftest import OPERATOR, FakeClock
from .discord_harness import card_of, running_rig, thread_messages

REPO = "acme/app"
ISSUE = {"repo": REPO, "issueNumber": 7}
STREAM = f"{REPO}#7"


def card_edits(fake: FakeDiscord, card: dict[str, Any]) -> list[str]:
    """The texts the card was edited to, in order."""
    return [r.json["content"] for r in fake.requests_to("PATCH", f"/channels/{card['channel_id']}/messages/{card['id']}")]


def card_posts(fake: FakeDiscord) -> int:
    return sum(1 for r in fake.requests_to("POST", "/messages") if str((r.json or {}).get("content")).startswith(CARD_MARK))


async def test_the_card_is_the_threads_first_message_pinned_and_follows_the_issue_debounced(
        fake: FakeDiscord, db: asyncpg.Pool, pg_server_dsn: str, clock: FakeClock) -> None:
    async with running_rig(fake, pg_server_dsn, clock, discord_card_seconds=3.0) as rig:
        await rig.post({"type": "ISSUE_APPROVED", **ISSUE, "title": "Add auth", "priority": "high"})
        card = await fake.wait_for(lambda: (c := card_of(fake, STREAM)) and c["pinned"] and c, what="the pinned card")
        [thread] = fake.threads.values()
        assert fake.messages_in(thread["id"])[0]["id"] == card["id"] and card["pinned"]
        assert card["content"].startswith(f"{CARD_MARK} **acme/app#7** Add auth") and "Queued" in card["content"]
        await fake.wait_for(lambda: thread_messages(fake, STREAM), what="the approval below the card")

        changes: list[dict[str, Any]] = [
            {"type": "ISSUE_ASSIGNED", **ISSUE, "agentId": "dev-e-1"},
            {"type": "WORK_STARTED", **ISSUE, "agentId": "dev-e-1", "branch": "feat/auth"},
            {"type": "PR_CREATED", **ISSUE, "prNumber": 88, "prUrl": "https://github.com/acme/app/pull/88"},
            {"type": "CI_FAILED", **ISSUE, "prNumber": 88, "failedChecks": ["lint"]},
            {"type": "CI_PASSED", **ISSUE, "prNumber": 88},
            {"type": "REVIEW_PASSED", **ISSUE, "prNumber": 88},
            {"type": "HUMAN_GATE_TRIGGERED", **ISSUE, "prNumber": 88, "reason": "touches auth"},
        ]
        for change in changes:  # well within one debounce interval
            await rig.post(change)
        final = await fake.wait_for(lambda: (c := card_of(fake, STREAM)) and "Gate **open**" in c["content"] and c,
                                    timeout=10, what="the card showing the gate")
        text = final["content"]
        assert "In review" in text and "**dev-e-1** (attempt 1)" in text and "PR #88" in text
        assert "CI ✅ passed" in text and "review 👍 passed" in text and "touches auth" in text
        assert "https://github.com/acme/app/pull/88" in text and "<t:" in text
        edits = card_edits(fake, card)
        assert 1 <= len(edits) < len(changes)  # coalesced
        assert edits[-1] == text and final["id"] == card["id"] and card_posts(fake) == 1
        await fake.wait_for(lambda: len(thread_messages(fake, STREAM)) == 1 + len(changes),
                            what="every lifecycle message below the card")

        run = await (await rig.http.post(f"{rig.url}/api/execution-logs", json={
            "repo": REPO, "issueNumber": 7, "agentId": "dev-e-1/abc12", "status": "running", "model": "m1"})).json()
        await rig.http.post(f"{rig.url}/api/execution-logs/{run['id']}/complete",
                            json={"status": "completed", "totalCostUsd": 1.25, "totalTurns": 42})
        await fake.wait_for(lambda: "$1.25" in card_of(fake, STREAM)["content"], timeout=10,  # type: ignore[index]
                            what="the run's cost on the card")
        async with rig.http.post(f"{rig.url}/api/events", headers=OPERATOR, json={
                "type": "HUMAN_GATE_APPROVED", **ISSUE, "reason": "reviewed"}) as resp:
            assert resp.status == 201
        await rig.post({"type": "MERGED", **ISSUE, "prNumber": 88})
        await rig.post({"type": "ISSUE_DONE", **ISSUE, "durationMinutes": 72})
        done = await fake.wait_for(lambda: (c := card_of(fake, STREAM)) and "Done in 1 h 12 min" in c["content"] and c,
                                   timeout=10, what="the card of the done issue")
        assert "✅ approved (carol)" in done["content"] and "Gate **open**" not in done["content"]
        assert len(fake.threads) == 1 and card_posts(fake) == 1


async def test_a_restart_edits_the_card_it_has_and_a_deleted_card_is_posted_again(
        fake: FakeDiscord, db: asyncpg.Pool, pg_server_dsn: str, clock: FakeClock) -> None:
    async with running_rig(fake, pg_server_dsn, clock, discord_card_seconds=0.5) as rig:
        await rig.post({"type": "ISSUE_APPROVED", **ISSUE, "title": "t"})
        card = await fake.wait_for(lambda: card_of(fake, STREAM))
    async with running_rig(fake, pg_server_dsn, clock, discord_card_seconds=0.5) as rig:
        await rig.post({"type": "ISSUE_ASSIGNED", **ISSUE, "agentId": "dev-e-2"})
        await fake.wait_for(lambda: "dev-e-2" in card_of(fake, STREAM)["content"])  # type: ignore[index]
        assert card_of(fake, STREAM)["id"] == card["id"] and card_posts(fake) == 1  # type: ignore[index]
        assert await db.fetchval("SELECT message_id FROM ce_discord_cards WHERE stream_id = $1", STREAM) == int(card["id"])
        fake.state.delete_message(card["id"])  # someone deleted it
        await rig.post({"type": "WORK_STARTED", **ISSUE, "agentId": "dev-e-2"})
        again = await fake.wait_for(lambda: card_of(fake, STREAM), what="the card posted again")
        assert again["id"] != card["id"] and "In progress" in again["content"] and card_posts(fake) == 2


async def test_a_thread_from_before_cards_gets_one_at_its_next_change(
        fake: FakeDiscord, db: asyncpg.Pool, pg_server_dsn: str, clock: FakeClock) -> None:
    async with running_rig(fake, pg_server_dsn, clock) as rig:
        await rig.post({"type": "ISSUE_APPROVED", **ISSUE, "title": "t"})
        card = await fake.wait_for(lambda: card_of(fake, STREAM))
    fake.state.delete_message(card["id"])
    await db.execute("DELETE FROM ce_discord_cards")  # as a thread made before status cards
    async with running_rig(fake, pg_server_dsn, clock) as rig:
        await rig.post({"type": "CI_PASSED", **ISSUE})
        posted = await fake.wait_for(lambda: (c := card_of(fake, STREAM)) and c["pinned"]
                                     and "🧪 no PR yet · CI ✅ passed" in c["content"] and c,
                                     what="a pinned card for the old thread, showing the CI")
    assert await db.fetchval("SELECT message_id FROM ce_discord_cards") == int(posted["id"])  # the stop finished it


async def test_without_the_pin_permission_the_card_is_posted_unpinned(db: asyncpg.Pool, pg_server_dsn: str,
                                                                        clock: FakeClock, caplog: Any) -> None:
    async with FakeDiscord(bot_permissions=BOT_PERMISSIONS & ~MANAGE_MESSAGES) as fake:
        async with running_rig(fake, pg_server_dsn, clock) as rig:
            for n in (7, 8):
                await rig.post({"type": "ISSUE_APPROVED", "repo": REPO, "issueNumber": n, "title": "t"})
            await fake.wait_for(lambda: card_of(fake, f"{REPO}#7") and card_of(fake, f"{REPO}#8"))
            await fake.wait_for(lambda: len(thread_messages(fake, f"{REPO}#8")) == 1, what="the message after it")
            assert not card_of(fake, f"{REPO}#7")["pinned"]  # type: ignore[index]
    said = [r for r in caplog.records if "may not pin" in r.getMessage()]
    assert len(said) == 1  # one line for the channel, not one per card
