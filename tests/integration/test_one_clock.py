"""Two processes whose clocks disagree by minutes share the database's clock: a healthy agent is
never called stuck, and events are stamped with the database's time."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import aiohttp
import asyncpg

from bot.clock import DatabaseClock
from bot.runtime import Service
from bot.settings import Settings
from eventstore.conductor import detect_silent_assignees

SKEW = timedelta(minutes=8)
TIMEOUT = timedelta(minutes=10)


def skewed(by: timedelta):  # type: ignore[no-untyped-def]
    return lambda: datetime.now(timezone.utc) + by


async def test_skewed_processes_share_the_databases_clock(pg_server_dsn: str, db: asyncpg.Pool) -> None:
    settings = Settings(host="127.0.0.1", port=0)
    ahead = Service(settings, dsn=pg_server_dsn, local_clock=skewed(SKEW))
    behind = Service(settings, dsn=pg_server_dsn, local_clock=skewed(-SKEW))
    async with ahead, behind, aiohttp.ClientSession() as http:
        for service in (ahead, behind):
            assert isinstance(service.clock, DatabaseClock) and service.clock.measured
        a, b = f"http://127.0.0.1:{ahead.port}", f"http://127.0.0.1:{behind.port}"
        await http.post(f"{a}/api/events", json={"type": "ISSUE_APPROVED", "repo": "o/r", "issueNumber": 1})
        async with http.get(f"{a}/api/assignments/next", params={"agentId": "dev-e-1"}) as resp:
            assert resp.status == 200
        # The agent's heartbeat goes through the process that is 8 minutes behind ...
        async with http.post(f"{b}/api/events", json={"type": "HEARTBEAT", "agentId": "dev-e-1"}) as resp:
            assert resp.status == 201
        # ... and the one 8 minutes ahead checks for silence: 16 minutes apart by their own clocks.
        assert ahead.store is not None and ahead.clock is not None
        assert await detect_silent_assignees(ahead.store, ahead.clock(), TIMEOUT) == 0
        stamps = await db.fetch('SELECT "timestamp" - now() AS off FROM mt_events')
        assert all(abs(r["off"]) < timedelta(seconds=5) for r in stamps), stamps
        async with http.get(f"{a}/api/agents/dev-e-1") as resp:
            assert (await resp.json())["isOnline"] is True


def test_the_offset_comes_from_the_quickest_recent_round_trip() -> None:
    local = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
    clock = DatabaseClock(lambda: local, window=3)
    assert not clock.measured
    clock.observe(local + timedelta(minutes=3), local - timedelta(milliseconds=80), local)  # slow, but all there is
    assert clock.measured and clock.error == timedelta(milliseconds=40)
    clock.observe(local + timedelta(minutes=3), local - timedelta(milliseconds=10), local)  # quicker: taken
    assert abs(clock() - (local + timedelta(minutes=3, milliseconds=5))) < timedelta(milliseconds=1)
    clock.observe(local, local - timedelta(seconds=2), local)  # slower than the best: not taken
    assert clock() - local > timedelta(minutes=2) and clock.error == timedelta(milliseconds=5)
