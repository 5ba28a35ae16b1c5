"""Gate reminders: one per interval, rebuilt after a restart, never repeated, stopped by closing."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import asyncpg
from aiohttp.test_utils import TestClient

from eventstore.conductor import remind_open_gates
from eventstore.postgres.store import PostgresEventStore
from eventstore.projections.projector import RigProjector
from tests.fake_discord import GATE_ROLE, FakeDiscord

from ..conftest import OPERATOR, FakeClock
from .discord_harness import running_rig, thread_messages

REPO = "acme/app"
ISSUE = {"repo": REPO, "issueNumber": 7}
EVERY = timedelta(minutes=30)


async def reminders(db: asyncpg.Pool) -> list[int]:
    rows = await db.fetch("SELECT data FROM mt_events WHERE type = 'human_gate_reminder' ORDER BY seq_id")
    return [r["data"]["Attempt"] for r in rows]


async def open_gate(api: TestClient, issue: dict = ISSUE) -> None:
    for body in ({"type": "ISSUE_APPROVED", **issue}, {"type": "PR_CREATED", **issue, "prNumber": 5},
                 {"type": "HUMAN_GATE_TRIGGERED", **issue, "prNumber": 5, "reason": "new dependency"}):
        assert (await api.post("/api/events", json=body)).status == 201


async def test_one_reminder_per_interval_with_minutes_waited(api: TestClient, store: PostgresEventStore,
                                                             db: asyncpg.Pool, clock: FakeClock) -> None:
    await open_gate(api)
    start = clock.now
    assert await remind_open_gates(store, start + timedelta(minutes=29), EVERY) == []
    [first] = await remind_open_gates(store, start + timedelta(minutes=30), EVERY)
    assert first.wire_name == "HUMAN_GATE_REMINDER" and first.event.pr_number == 5  # type: ignore[union-attr]
    assert await remind_open_gates(store, start + timedelta(minutes=45), EVERY) == []
    assert len(await remind_open_gates(store, start + timedelta(minutes=61), EVERY)) == 1
    assert await reminders(db) == [30, 61]
    # each names its place on the gate's schedule; after a gap the missed ones fold into the nth
    assert len(await remind_open_gates(store, start + timedelta(minutes=185), EVERY)) == 1
    numbers = await db.fetch("SELECT data->'Reminder' AS n FROM mt_events WHERE type = 'human_gate_reminder' "
                             "ORDER BY seq_id")
    assert [r["n"] for r in numbers] == [1, 2, 6]
    issue = await (await api.get(f"/api/issues/{REPO}/7")).json()
    assert issue["gate"]["remindersSent"] == 3


async def test_two_processes_never_repeat_a_reminder(api: TestClient, store: PostgresEventStore,
                                                     db: asyncpg.Pool, clock: FakeClock) -> None:
    await open_gate(api)
    other = PostgresEventStore(db, clock=clock, projector=RigProjector())
    await other.start()
    try:
        now = clock.now + timedelta(minutes=31)
        results = await asyncio.gather(remind_open_gates(store, now, EVERY), remind_open_gates(other, now, EVERY),
                                       remind_open_gates(store, now, EVERY))
    finally:
        await other.close()
    assert sorted(len(r) for r in results) == [0, 0, 1]
    assert await reminders(db) == [31]


async def test_reminders_stop_when_the_gate_closes(api: TestClient, store: PostgresEventStore,
                                                   db: asyncpg.Pool, clock: FakeClock) -> None:
    closers = [{"type": "HUMAN_GATE_APPROVED", "decidedBy": "alice"}, {"type": "MERGED"}, {"type": "ISSUE_DONE"},
               {"type": "ESCALATED", "reason": "r"}]
    for number, closer in enumerate(closers, start=7):
        issue = {"repo": REPO, "issueNumber": number}
        await open_gate(api, issue)
        start = clock.now
        assert len(await remind_open_gates(store, start + timedelta(minutes=30), EVERY)) == 1
        assert (await api.post("/api/events", json={**closer, **issue}, headers=OPERATOR)).status == 201
        assert await remind_open_gates(store, start + timedelta(minutes=90), EVERY) == [], closer["type"]



async def test_reminder_rebuilt_after_restart_and_posted_with_the_role(
        fake: FakeDiscord, db: asyncpg.Pool, pg_server_dsn: str, clock: FakeClock) -> None:
    async with running_rig(fake, pg_server_dsn, clock, human_gate_reminder_minutes=0.1) as rig:
        await rig.post({"type": "ISSUE_APPROVED", **ISSUE, "title": "t"})
        await rig.post({"type": "HUMAN_GATE_TRIGGERED", **ISSUE, "prNumber": 5, "reason": "payment"})
        await fake.wait_for(lambda: any(m.startswith("🚦") for m in thread_messages(fake, f"{REPO}#7")))
    clock.advance(seconds=4)
    async with running_rig(fake, pg_server_dsn, clock, human_gate_reminder_minutes=0.1) as rig:
        scheduler = rig.service.scheduler
        assert scheduler is not None
        clock.advance(seconds=2)  # 6 s = 0.1 min after the gate opened: due, whatever ran before the restart
        await scheduler.tick()
        await scheduler.tick()  # a second run in the same interval appends nothing
        assert len(await reminders(db)) == 1
        await fake.wait_for(lambda: any(m.startswith("⏰") for m in thread_messages(fake, f"{REPO}#7")))
        reminder = next(m for m in thread_messages(fake, f"{REPO}#7") if m.startswith("⏰"))
        assert f"<@&{fake.role(GATE_ROLE).id}>" in reminder
        await rig.post({"type": "HUMAN_GATE_APPROVED", **ISSUE, "decidedBy": "alice"}, headers=OPERATOR)
        clock.advance(minutes=10)
        await scheduler.tick()  # the gate is closed: nothing is due
        assert len(await reminders(db)) == 1
