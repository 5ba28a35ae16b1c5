"""A stalled database (it neither answers nor refuses): every request is answered within an
agent's 2 s timeout, and everything works again once the database does."""

from __future__ import annotations

import asyncio
import time

import aiohttp

from bench.harness.pg_cluster import Cluster
from tests.fake_discord import FakeDiscord
from tests.integration.discord_harness import running_rig, thread_messages

from ..conftest import FakeClock

REPO = "acme/app"
AGENT_TIMEOUT = 2.0


async def timed(http: aiohttp.ClientSession, method: str, url: str, **kwargs: object) -> tuple[int, float]:
    started = time.monotonic()
    async with http.request(method, url, timeout=aiohttp.ClientTimeout(total=10), **kwargs) as resp:  # type: ignore[arg-type]
        await resp.read()
        if resp.status == 503:
            assert resp.headers.get("Retry-After"), (method, url)
        return resp.status, time.monotonic() - started


async def test_every_answer_within_2_s_while_the_database_is_frozen(
        fake: FakeDiscord, cluster: Cluster, clock: FakeClock) -> None:
    async with running_rig(fake, cluster.dsn, clock) as rig:
        await rig.post({"type": "ISSUE_APPROVED", "repo": REPO, "issueNumber": 1, "title": "before"})
        await fake.wait_for(lambda: thread_messages(fake, f"{REPO}#1"), timeout=10)
        url = rig.url
        requests = [
            ("POST", f"{url}/api/events", {"json": {"type": "HEARTBEAT", "agentId": "dev-e-1"}}),
            ("POST", f"{url}/api/events", {"json": {"type": "TOOL_USED", "agentId": "dev-e-1", "toolName": "x"}}),
            ("GET", f"{url}/api/issues", {}),
            ("GET", f"{url}/api/agents", {}),
            ("GET", f"{url}/api/events?after=0", {}),
            ("GET", f"{url}/api/queue", {}),
            ("POST", f"{url}/api/assignments/next?agentId=dev-e-1", {}),
            ("GET", f"{url}/health", {}),
        ]
        await asyncio.to_thread(cluster.freeze)
        try:
            # At once (before the watch notices) and a while later: concurrently, as agents do.
            for _ in range(3):
                answers = await asyncio.gather(*(timed(rig.http, m, u, **k) for m, u, k in requests * 3))
                slow = [(r, a) for r, a in zip(requests * 3, answers, strict=True) if a[1] >= AGENT_TIMEOUT]
                assert not slow, slow
                assert all(status in (503, 200, 204) for status, _ in answers), answers
                assert answers[-1][0] == 503  # /health: the database is down
                await asyncio.sleep(0.7)
        finally:
            await asyncio.to_thread(cluster.thaw)
        deadline = time.monotonic() + 10
        while (await timed(rig.http, "GET", f"{url}/health"))[0] != 200:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)
        await rig.post({"type": "ISSUE_APPROVED", "repo": REPO, "issueNumber": 2, "title": "after"})
        await fake.wait_for(lambda: thread_messages(fake, f"{REPO}#2"), timeout=20)
