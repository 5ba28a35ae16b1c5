"""Many issue threads with the real discord.py client against the fake Discord: every thread gets
its message while discord.py's rate-limit buckets (one per thread) stay bounded."""

from __future__ import annotations

import asyncpg

from bot.discord.ratelimits import SWEEP_FLOOR
from tests.fake_discord import FakeDiscord

from ..conftest import FakeClock
from .discord_harness import running_rig

ISSUES = 3 * SWEEP_FLOOR  # past discord.py's own sweep threshold, several times


async def test_buckets_stay_bounded_as_threads_pile_up(fake: FakeDiscord, db: asyncpg.Pool, pg_server_dsn: str,
                                                       clock: FakeClock) -> None:
    async with running_rig(fake, pg_server_dsn, clock) as rig:
        for n in range(1, ISSUES + 1):
            await rig.post({"type": "ISSUE_APPROVED", "repo": "acme/app", "issueNumber": n, "title": f"task {n}"})
        await fake.wait_for(lambda: sum(1 for t in fake.threads.values() if fake.messages.get(t["id"])) == ISSUES,
                            timeout=60, what=f"{ISSUES} threads with their first message")
        bot = rig.service.bot
        assert bot is not None and bot.bucket_sweep is not None
        assert bot.bucket_sweep.sweeps >= 1
        assert len(bot.http._buckets) <= 2 * SWEEP_FLOOR
        assert len(fake.threads) == ISSUES
