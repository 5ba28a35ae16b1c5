"""The daily digest: recorded by the scheduler's tick at DIGEST_TIME once per day (restarts and
second processes included), posted in the issue channel, and /digest on demand."""

from __future__ import annotations

import asyncio
from datetime import datetime, time, timezone

import asyncpg

from eventstore.digest import record_digest
from eventstore.events import DIGEST_STREAM
from eventstore.postgres.read_models import PostgresReadModels
from eventstore.postgres.store import PostgresEventStore
from eventstore.projections.projector import RigProjector
from tests.fake_discord import PLAIN_MEMBER, FakeDiscord

from ..conftest import OPERATOR, FakeClock
from .discord_harness import Rig, running_rig

REPO = "acme/app"
ISSUE = {"repo": REPO, "issueNumber": 7}


def on(hour: int, minute: int = 0, day: int = 2) -> datetime:
    return datetime(2026, 4, day, hour, minute, tzinfo=timezone.utc)


async def seed(rig: Rig, clock: FakeClock) -> None:
    """A day of one issue: approved, PR opened 05:10, gate 05:20 to 05:50, merged 06:10, done 06:30."""
    for at, body, headers in [
        (on(6, day=1), {"type": "ISSUE_DONE", "repo": REPO, "issueNumber": 1}, None),  # before the day
        (on(5), {"type": "ISSUE_APPROVED", **ISSUE, "title": "Pay"}, None),
        (on(5, 10), {"type": "PR_CREATED", **ISSUE, "prNumber": 88}, None),
        (on(5, 20), {"type": "HUMAN_GATE_TRIGGERED", **ISSUE, "prNumber": 88, "reason": "payments"}, None),
        (on(5, 50), {"type": "HUMAN_GATE_APPROVED", **ISSUE}, OPERATOR),
        (on(6, 10), {"type": "MERGED", **ISSUE, "prNumber": 88}, None),
        (on(6, 30), {"type": "ISSUE_DONE", **ISSUE}, None),
        (on(6, 40), {"type": "TOKEN_USAGE", "agentId": "dev-e-1/abc12", "repo": REPO, "issueNumber": 7,
                     "costUsd": 1.5, "inputTokens": 900, "outputTokens": 100}, None),
        (on(6, 45), {"type": "AGENT_STUCK", "agentId": "dev-e-2"}, None),
        (on(7, 10), {"type": "ISSUE_DONE", "repo": REPO, "issueNumber": 3}, None),  # after the digest's time
    ]:
        clock.now = at
        await rig.post(body, headers)


def digests_posted(fake: FakeDiscord) -> list[str]:
    return [m["content"] for m in fake.messages_in(fake.channel_id) if m["content"].startswith("📰 **Daily digest")]


async def digest_rows(db: asyncpg.Pool) -> int:
    return int(await db.fetchval("SELECT count(*) FROM mt_events WHERE type = 'digest_compiled'"))


async def test_the_digest_is_recorded_once_at_its_time_and_posted_with_the_days_figures(
        fake: FakeDiscord, db: asyncpg.Pool, pg_server_dsn: str, clock: FakeClock) -> None:
    clock.now = on(4)
    async with running_rig(fake, pg_server_dsn, clock, digest_time=time(7, 0)) as rig:
        scheduler = rig.service.scheduler
        assert scheduler is not None
        await seed(rig, clock)
        clock.now = on(6, 59)
        await scheduler.tick()
        assert await digest_rows(db) == 0  # not yet
        clock.now = on(7, 12)
        await scheduler.tick()
        await scheduler.tick()  # the same day again: nothing more, and no query either
        [posted] = await fake.wait_for(lambda: digests_posted(fake))
        assert posted.splitlines() == [
            "📰 **Daily digest** — 2026-04-01 07:00 → 2026-04-02 07:00 UTC",
            "🏁 Done: **1** — acme/app#7",
            "🆘 Escalated: **0**",
            "🧱 Stuck reports: **1**",
            "🎉 Merged: **1** · median time to merge 1 h",
            "🚦 Gates decided: **1** (1 approved, 0 rejected) · median wait 30 min",
            "💸 LLM cost: **$1.50**",
            "   by agent: dev-e-1 $1.50",
            "   by repo: acme/app $1.50",
        ]
        stream = await (await rig.http.get(f"{rig.url}/api/events/stream", params={"id": DIGEST_STREAM})).json()
        assert [e["type"] for e in stream] == ["DIGEST_COMPILED"] and stream[0]["doneCount"] == 1
    clock.now = on(8)
    async with running_rig(fake, pg_server_dsn, clock, digest_time=time(7, 0)) as rig:  # a restart
        assert rig.service.scheduler is not None
        await rig.service.scheduler.tick()
        assert await digest_rows(db) == 1
    assert len(digests_posted(fake)) == 1


async def test_two_processes_record_a_days_digest_once(store: PostgresEventStore, db: asyncpg.Pool,
                                                       clock: FakeClock) -> None:
    other = PostgresEventStore(db, clock=clock, projector=RigProjector())
    await other.start()
    reads = PostgresReadModels(db)
    try:
        results = await asyncio.gather(record_digest(store, reads, on(7)), record_digest(other, reads, on(7)),
                                       record_digest(store, reads, on(7)))
    finally:
        await other.close()
    assert sorted(r is not None for r in results) == [False, False, True]
    assert await digest_rows(db) == 1
    assert await record_digest(store, reads, on(7, day=3)) is not None  # the next day has its own


async def test_digest_on_demand_covers_the_last_24_hours(
        fake: FakeDiscord, db: asyncpg.Pool, pg_server_dsn: str, clock: FakeClock) -> None:
    clock.now = on(4)
    async with running_rig(fake, pg_server_dsn, clock) as rig:
        await seed(rig, clock)
        clock.now = on(7, 15)
        answer = await fake.wait_answer(await fake.slash_command("digest", {}, user=PLAIN_MEMBER))
        assert answer.first_type == 5 and answer.ephemeral
        lines = answer.content.splitlines()
        assert lines[0] == "📰 **Last 24 hours** — 2026-04-01 07:15 → 2026-04-02 07:15 UTC"
        assert lines[1] == "🏁 Done: **2** — acme/app#3, acme/app#7"  # 07:10 is in this window
        assert "💸 LLM cost: **$1.50**" in lines
        shared = await fake.wait_answer(await fake.slash_command("digest", {"share": True}, user=PLAIN_MEMBER))
        assert not shared.ephemeral and shared.content == answer.content
        assert await digest_rows(db) == 0  # on demand: nothing recorded
