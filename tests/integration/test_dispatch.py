"""The dispatcher: each listed agent holding no unfinished work gets the head of the queue, with
the claims' atomicity; woken by the store as work appears, and by the scheduler's tick."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import aiohttp
from aiohttp.test_utils import TestClient

from bot.dispatcher import Dispatcher
from bot.runtime import Service
from bot.scheduler import RigScheduler
from bot.settings import Settings
from eventstore.conductor import claim_next, dispatch, dispatch_due
from eventstore.postgres.read_models import PostgresReadModels
from eventstore.postgres.store import PostgresEventStore

from ..conftest import TEST_CREDENTIALS, FakeClock

REPO = "acme/app"


async def post(api: TestClient, body: dict) -> None:
    resp = await api.post("/api/events", json=body)
    assert resp.status == 201, await resp.text()


async def approve(api: TestClient, n: int, priority: str = "normal") -> None:
    await post(api, {"type": "ISSUE_APPROVED", "repo": REPO, "issueNumber": n, "title": f"issue {n}",
                     "priority": priority})


async def assignee(api: TestClient, n: int) -> str | None:
    doc = await (await api.get(f"/api/issues/{REPO}/{n}")).json()
    agent: str | None = doc["assignedAgent"]
    return agent


async def test_each_idle_agent_gets_the_head_of_the_queue_in_order(api: TestClient, store: PostgresEventStore,
                                                                    clock: FakeClock) -> None:
    await approve(api, 1)
    await approve(api, 2, "critical")
    await approve(api, 3, "high")
    recorded = await dispatch(store, ["dev-e-1", "dev-e-2"])
    assert [(r.stream_id, r.data["AgentId"], r.data["Rule"], r.data["Attempt"]) for r in recorded] == [
        (f"{REPO}#2", "dev-e-1", "dispatch", 1), (f"{REPO}#3", "dev-e-2", "dispatch", 1)]
    assert await dispatch(store, ["dev-e-1", "dev-e-2"]) == []  # both hold work now
    # An agent finishing frees it for the next issue; the other keeps its own.
    await post(api, {"type": "ISSUE_DONE", "repo": REPO, "issueNumber": 2})
    [again] = await dispatch(store, ["dev-e-1", "dev-e-2"])
    assert (again.stream_id, again.data["AgentId"]) == (f"{REPO}#1", "dev-e-1")
    # A claim sees the dispatched assignment as the agent's own.
    held, claimed = await claim_next(store, "dev-e-2")
    assert held is not None and held.issue_number == 3 and not claimed


async def test_never_hands_an_agent_an_issue_it_got_stuck_on(api: TestClient, store: PostgresEventStore) -> None:
    await approve(api, 1)
    await dispatch(store, ["dev-e-1"])
    await post(api, {"type": "AGENT_STUCK", "agentId": "dev-e-1/abc12", "reason": "loops"})  # back to the queue
    assert await assignee(api, 1) is None
    assert await dispatch(store, ["dev-e-1"]) == []
    [other] = await dispatch(store, ["dev-e-1", "dev-e-2"])
    assert other.data["AgentId"] == "dev-e-2"


async def test_dispatches_and_claims_at_once_never_share_an_issue(api: TestClient, store: PostgresEventStore) -> None:
    for n in range(1, 9):
        await approve(api, n)
    agents = [f"dev-e-{i}" for i in range(1, 6)]
    outcomes = await asyncio.gather(dispatch(store, agents), dispatch(store, list(reversed(agents))),
                                    *(claim_next(store, f"poller-{i}") for i in range(5)))
    dispatched = [r.stream_id for result in outcomes[:2] for r in result]
    claimed = [issue.id for issue, new in outcomes[2:] if issue is not None and new]
    assert len(dispatched) == 5 and len(claimed) == 3
    assert sorted(dispatched + claimed) == sorted(f"{REPO}#{n}" for n in range(1, 9))  # each once


async def test_dispatch_due_only_with_an_idle_agent_and_work(api: TestClient, store: PostgresEventStore) -> None:
    reads = PostgresReadModels(store.pool)
    assert not await dispatch_due(reads, ["dev-e-1"])  # no work
    await approve(api, 1)
    await approve(api, 2)
    assert await dispatch_due(reads, ["dev-e-1"]) and not await dispatch_due(reads, [])
    await dispatch(store, ["dev-e-1"])
    assert not await dispatch_due(reads, ["dev-e-1"])  # work, but no idle agent
    assert await dispatch_due(reads, ["dev-e-1", "dev-e-2"])


async def test_the_scheduler_tick_is_a_backstop(api: TestClient, store: PostgresEventStore, clock: FakeClock) -> None:
    dispatcher = Dispatcher(store, PostgresReadModels(store.pool), ["dev-e-1"])
    scheduler = RigScheduler(store, clock, heartbeat_timeout=timedelta(minutes=10),
                             reminder_interval=timedelta(minutes=30), dispatch=dispatcher.tick)
    await scheduler.tick()  # nothing queued: nothing to do
    await approve(api, 1)
    await scheduler.tick()
    assert await assignee(api, 1) == "dev-e-1"


async def test_the_service_dispatches_as_soon_as_work_is_approved(db: object, pg_server_dsn: str,
                                                                  clock: FakeClock) -> None:
    settings = Settings(host="127.0.0.1", port=0, credentials=TEST_CREDENTIALS, dispatch_agents=("dev-e-1",))
    async with Service(settings, clock=clock, dsn=pg_server_dsn) as service, aiohttp.ClientSession() as http:
        url = f"http://127.0.0.1:{service.port}"
        async with http.post(f"{url}/api/events", json={"type": "ISSUE_APPROVED", "repo": REPO,
                                                        "issueNumber": 5, "title": "t"}) as resp:
            assert resp.status == 201
        # The scheduler's next tick is 30 s away: the dispatcher was woken by the approval itself.
        deadline = time.monotonic() + 10
        while True:
            async with http.get(f"{url}/api/issues/{REPO}/5") as resp:
                doc = await resp.json()
            if doc["assignedAgent"] == "dev-e-1":
                break
            assert time.monotonic() < deadline, doc
            await asyncio.sleep(0.05)
        async with http.get(f"{url}/health") as resp:
            report = await resp.json()
        assert report["components"]["dispatcher"]["state"] == "running"
        assert report["components"]["valkey"]["state"] == "disabled"
