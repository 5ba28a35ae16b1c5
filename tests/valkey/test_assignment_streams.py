"""Assignments pushed to a real Valkey/Redis and read back exactly as the agent runtime reads them:
``XREADGROUP GROUP agents <consumer> STREAMS assignments:<agent> >`` and ``LPOP signal:<agent>``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import asyncpg
import redis.asyncio
from prometheus_client.parser import text_string_to_metric_families
from redis.exceptions import ResponseError

from bot.runtime import Service
from bot.settings import Settings
from bot.valkey.publisher import NAME
from bot.valkey.streams import ValkeyAssignments

from ..conftest import TEST_CREDENTIALS, FakeClock
from .proxy import CuttableProxy

REPO = "acme/app"
Entry = tuple[str, dict[str, str]]


async def read_as_runtime(valkey: redis.asyncio.Redis, agent: str, count: int, *, consumer: str = "pod-1",
                          timeout: float = 15.0) -> list[Entry]:
    """``count`` new entries of the agent's stream, read as the runtime does (its consumer group)."""
    got: list[Entry] = []
    deadline = time.monotonic() + timeout
    while len(got) < count:
        assert time.monotonic() < deadline, f"only {got} of {count} entries arrived"
        try:
            answer = await valkey.execute_command("XREADGROUP", "GROUP", "agents", consumer, "COUNT", "10",
                                                  "BLOCK", "200", "STREAMS", f"assignments:{agent}", ">")
        except ResponseError as exc:  # NOGROUP: nothing was published to this agent yet
            assert "NOGROUP" in str(exc), exc
            await asyncio.sleep(0.05)
            continue
        for _, entries in answer or []:  # the reply as the client parses it: fields as a mapping
            got += [(entry_id, dict(fields)) for entry_id, fields in entries]
    return got


class Rig:
    def __init__(self, service: Service, http: aiohttp.ClientSession) -> None:
        self.service, self.http = service, http
        self.url = f"http://127.0.0.1:{service.port}"

    async def post(self, body: dict[str, Any]) -> dict[str, Any]:
        async with self.http.post(f"{self.url}/api/events", json=body) as resp:
            assert resp.status == 201, await resp.text()
            answer: dict[str, Any] = await resp.json()
            return answer

    async def approve(self, n: int, priority: str = "normal") -> None:
        await self.post({"type": "ISSUE_APPROVED", "repo": REPO, "issueNumber": n, "title": f"issue {n}",
                         "priority": priority})

    async def claim(self, agent_id: str) -> dict[str, Any]:
        async with self.http.get(f"{self.url}/api/assignments/next", params={"agentId": agent_id}) as resp:
            assert resp.status == 200, await resp.text()
            answer: dict[str, Any] = await resp.json()
            return answer

    async def assigned_event(self, n: int) -> dict[str, Any]:
        async with self.http.get(f"{self.url}/api/events/stream", params={"id": f"{REPO}#{n}"}) as resp:
            events = await resp.json()
        [assigned] = [e for e in events if e["type"] == "ISSUE_ASSIGNED"]
        return dict(assigned)

    async def valkey_state(self, until: Callable[[dict[str, Any]], bool], timeout: float = 15.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            async with self.http.get(f"{self.url}/health") as resp:
                part: dict[str, Any] = (await resp.json())["components"]["valkey"]
            if until(part):
                return part
            assert time.monotonic() < deadline, part
            await asyncio.sleep(0.05)


@asynccontextmanager
async def running(dsn: str, clock: FakeClock, valkey_url: str, *agents: str) -> AsyncIterator[Rig]:
    settings = Settings(host="127.0.0.1", port=0, credentials=TEST_CREDENTIALS, valkey_url=valkey_url,
                        dispatch_agents=agents)
    async with Service(settings, clock=clock, dsn=dsn) as service, aiohttp.ClientSession() as http:
        yield Rig(service, http)


def caught_up(part: dict[str, Any]) -> bool:
    return part["state"] == "running" and part.get("lagEvents") == 0


async def test_every_kind_of_assignment_reaches_the_agents_stream(db: asyncpg.Pool, pg_server_dsn: str,
                                                                  clock: FakeClock, valkey_url: str,
                                                                  valkey: redis.asyncio.Redis,
                                                                  agent: Callable[[str], str]) -> None:
    dispatched, poller, posted = agent("dev-e-1"), agent("dev-e-2"), agent("dev-e-3")
    async with running(pg_server_dsn, clock, valkey_url, dispatched) as rig:
        # The dispatcher's agent has its group before any work: the runtime's first read works, and waits.
        await rig.valkey_state(caught_up)
        assert await valkey.execute_command("XREADGROUP", "GROUP", "agents", "pod-1", "STREAMS",
                                            f"assignments:{dispatched}", ">") in (None, [])

        await rig.approve(1, "high")  # the dispatcher assigns it
        [(entry_id, fields)] = await read_as_runtime(valkey, dispatched, 1)
        assigned = await rig.assigned_event(1)
        assert assigned["agentId"] == dispatched and assigned["rule"] == "dispatch"
        assert fields == {"repo": REPO, "issueNumber": "1", "title": "issue 1", "priority": "high",
                          "attempt": "1", "eventId": assigned["eventId"]}
        assert await valkey.lpop(f"signal:{dispatched}") == entry_id
        assert await valkey.llen(f"signal:{dispatched}") == 0

        await rig.approve(2)  # claimed over HTTP by a pod: published under the bare agent id
        assert (await rig.claim(f"{poller}/abc12"))["issueNumber"] == 2
        [(_, fields)] = await read_as_runtime(valkey, poller, 1)
        assert fields["issueNumber"] == "2" and fields["title"] == "issue 2" and fields["priority"] == "normal"

        for key, value in (("stack", "Node.js (package.json)"), ("test-command", "npm test")):
            async with rig.http.post(f"{rig.url}/api/repo-learnings", json={
                    "repo": REPO, "key": key, "value": value, "agentId": posted}) as resp:
                assert resp.status in (200, 201), await resp.text()
        await rig.approve(3)  # a posted ISSUE_ASSIGNED, in a repo whose learnings know its stack and tests
        await rig.post({"type": "ISSUE_ASSIGNED", "repo": REPO, "issueNumber": 3, "agentId": posted})
        [(_, fields)] = await read_as_runtime(valkey, posted, 1)
        assert fields["issueNumber"] == "3"
        assert fields["stack"] == "Node.js (package.json)" and fields["testCommand"] == "npm test"
        assert "buildCommand" not in fields and "tools" not in fields
        await rig.valkey_state(caught_up)
        for name in (dispatched, poller, posted):
            assert await valkey.xlen(f"assignments:{name}") == 1
        assert await valkey.exists(f"assignments:{poller}/abc12") == 0
        async with rig.http.get(f"{rig.url}/metrics") as resp:  # the publisher's lag, as /health gives it
            lag = {s.name: s.value for f in text_string_to_metric_families(await resp.text()) for s in f.samples
                   if s.name.startswith("conductor_e_valkey_publish_lag")}
        assert lag == {"conductor_e_valkey_publish_lag_events": 0, "conductor_e_valkey_publish_lag_seconds": 0}


async def test_an_outage_delays_assignments_and_recovery_delivers_each_once(
        db: asyncpg.Pool, pg_server_dsn: str, clock: FakeClock, valkey_url: str, valkey: redis.asyncio.Redis,
        agent: Callable[[str], str]) -> None:
    first, second, moved = agent("dev-e-1"), agent("dev-e-2"), agent("dev-e-3")
    proxy = CuttableProxy(valkey_url)
    await proxy.start()
    try:
        async with running(pg_server_dsn, clock, proxy.url) as rig:
            await rig.approve(1)
            await rig.claim(first)
            assert len(await read_as_runtime(valkey, first, 1)) == 1

            await proxy.cut()  # Valkey is down
            for n in (2, 3, 4):
                await rig.approve(n)
            await rig.post({"type": "ISSUE_ASSIGNED", "repo": REPO, "issueNumber": 2, "agentId": first})
            await rig.claim(second)  # #3
            # Assigned and taken back during the outage: no longer current once Valkey is back.
            await rig.post({"type": "ISSUE_ASSIGNED", "repo": REPO, "issueNumber": 4, "agentId": moved})
            await rig.post({"type": "ISSUE_UNASSIGNED", "repo": REPO, "issueNumber": 4, "agentId": moved})
            paused = await rig.valkey_state(lambda p: p["state"] == "paused" and p.get("lagEvents", 0) > 0)
            assert "Error" in paused["detail"] or "Connection" in paused["detail"], paused

            await proxy.restore()
            await rig.valkey_state(caught_up)
            [(_, two)] = await read_as_runtime(valkey, first, 1)
            [(_, three)] = await read_as_runtime(valkey, second, 1)
            assert (two["issueNumber"], three["issueNumber"]) == ("2", "3")
        assert await valkey.xlen(f"assignments:{first}") == 2 and await valkey.llen(f"signal:{first}") == 2
        assert await valkey.xlen(f"assignments:{second}") == 1 and await valkey.llen(f"signal:{second}") == 1
        assert await valkey.exists(f"assignments:{moved}", f"signal:{moved}") == 0
    finally:
        await proxy.close()


async def test_a_restart_never_publishes_an_assignment_twice(db: asyncpg.Pool, pg_server_dsn: str, clock: FakeClock,
                                                             valkey_url: str, valkey: redis.asyncio.Redis,
                                                             agent: Callable[[str], str]) -> None:
    a, b, c = agent("dev-e-1"), agent("dev-e-2"), agent("dev-e-3")
    async with running(pg_server_dsn, clock, valkey_url) as rig:
        for n, name in ((1, a), (2, b)):
            await rig.approve(n)
            await rig.claim(name)
        await rig.valkey_state(caught_up)
    # The crash window: Valkey has the entries, but the checkpoint was never saved (as if the
    # process died right after publishing). The next start reads those events again.
    await db.execute("SELECT mt_mark_event_progression($1, 0)", f"{NAME}:All")
    async with running(pg_server_dsn, clock, valkey_url) as rig:
        await rig.valkey_state(caught_up)
        await rig.approve(3)
        await rig.claim(c)
        await rig.valkey_state(caught_up)
        [(_, three)] = await read_as_runtime(valkey, c, 1)
        assert three["issueNumber"] == "3"
    for name in (a, b, c):
        assert await valkey.xlen(f"assignments:{name}") == 1, name
        assert await valkey.llen(f"signal:{name}") == 1, name
    one = await read_as_runtime(valkey, a, 1)
    assert one[0][1]["issueNumber"] == "1"
    assert await valkey.execute_command("XREADGROUP", "GROUP", "agents", "pod-2", "STREAMS",
                                        f"assignments:{a}", ">") in (None, [])  # nothing more, to any consumer


async def test_publishing_is_idempotent_and_keeps_an_existing_stream(valkey_url: str, valkey: redis.asyncio.Redis,
                                                                     agent: Callable[[str], str]) -> None:
    name = agent("dev-e-1")
    sink = ValkeyAssignments(valkey_url)
    try:
        await valkey.xadd(f"assignments:{name}", {"old": "entry"})  # written before there was a group
        fields = {"repo": REPO, "issueNumber": "1", "title": "t", "priority": "normal"}
        entry, new = await sink.publish(name, "event-1", fields)
        assert new and await sink.publish(name, "event-1", fields) == (entry, False)
        await sink.prepare([name, name])  # the group exists already: nothing to do, no error
        assert [fields] == [f for _, f in await read_as_runtime(valkey, name, 1)]  # the new entry, not the old
        assert await valkey.llen(f"signal:{name}") == 1
        assert 0 < await valkey.ttl(f"conductor-e:published:{name}:event-1") <= 30 * 86400
    finally:
        await sink.close()
