"""The database goes away under a running service and comes back: everything resumes by itself."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp

from bench.harness.pg_cluster import Cluster
from tests.fake_discord import FakeDiscord
from tests.integration.discord_harness import Rig, running_rig, thread_messages

from ..conftest import FakeClock

REPO = "acme/app"


async def health(rig: Rig) -> tuple[int, dict[str, Any], dict[str, str]]:
    async with rig.http.get(f"{rig.url}/health") as resp:
        return resp.status, await resp.json(), dict(resp.headers)


async def post_status(rig: Rig, body: dict[str, Any]) -> int:
    try:
        async with rig.http.post(f"{rig.url}/api/events", json=body,
                                 timeout=aiohttp.ClientTimeout(total=5)) as resp:
            return resp.status
    except TimeoutError:
        return 0


async def until(predicate: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.1)


async def test_delivery_and_appends_resume_after_a_database_restart(
        fake: FakeDiscord, cluster: Cluster, clock: FakeClock) -> None:
    async with running_rig(fake, cluster.dsn, clock) as rig:
        await rig.post({"type": "ISSUE_APPROVED", "repo": REPO, "issueNumber": 1, "title": "before"})
        await fake.wait_for(lambda: thread_messages(fake, f"{REPO}#1"), timeout=10)
        status, report, _ = await health(rig)
        assert status == 200 and report["components"]["delivery"]["state"] == "running"
        assert report["components"]["discord"]["state"] == "connected"

        await asyncio.to_thread(cluster.stop)
        status, report, headers = await health(rig)
        assert status == 503 and report["database"] == "down" and headers["Retry-After"]
        started = time.monotonic()
        assert await post_status(rig, {"type": "HEARTBEAT", "agentId": "dev-e-1"}) == 503
        assert time.monotonic() - started < 2

        await asyncio.to_thread(cluster.start)
        await until(lambda: _status_is(rig, {"type": "ISSUE_APPROVED", "repo": REPO, "issueNumber": 2,
                                              "title": "after"}, 201))
        # Delivery found its way back by itself: the issue opened after the restart gets its thread.
        await fake.wait_for(lambda: thread_messages(fake, f"{REPO}#2"), timeout=20)
        await until(lambda: _delivery_running(rig))


async def test_delivery_resumes_after_the_database_is_killed(
        fake: FakeDiscord, cluster: Cluster, clock: FakeClock) -> None:
    async with running_rig(fake, cluster.dsn, clock) as rig:
        await rig.post({"type": "ISSUE_APPROVED", "repo": REPO, "issueNumber": 1, "title": "before"})
        await fake.wait_for(lambda: thread_messages(fake, f"{REPO}#1"), timeout=10)
        await asyncio.to_thread(cluster.kill)
        await asyncio.sleep(0.5)
        await asyncio.to_thread(cluster.start)
        await until(lambda: _status_is(rig, {"type": "ISSUE_APPROVED", "repo": REPO, "issueNumber": 3,
                                              "title": "after a crash"}, 201))
        await fake.wait_for(lambda: thread_messages(fake, f"{REPO}#3"), timeout=20)


async def _status_is(rig: Rig, body: dict[str, Any], status: int) -> bool:
    return await post_status(rig, body) == status


async def _delivery_running(rig: Rig) -> bool:
    status, report, _ = await health(rig)
    return status == 200 and report["components"]["delivery"]["state"] == "running"
