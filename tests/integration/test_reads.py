"""Reading back: the stream feed, the global feed, health, and the seed's Marten SQL verbatim."""

from __future__ import annotations

import asyncpg
from aiohttp.test_utils import TestClient, TestServer

from bot.http.app import create_app
from bot.http.app_keys import ApiDeps
from eventstore.postgres.read_models import PostgresReadModels
from eventstore.postgres.stats import SEED_MEMORY_QUALITY, SEED_TOP_TOOLS
from eventstore.postgres.store import PostgresEventStore

from ..conftest import FakeClock


async def post(api: TestClient, body: dict) -> dict:
    resp = await api.post("/api/events", json=body)
    assert resp.status == 201, await resp.text()
    return await resp.json()


async def test_stream_feed_in_version_order_with_paging(api: TestClient) -> None:
    for i in range(5):
        await post(api, {"type": "TOOL_USED", "agentId": "dev-e-1", "repo": "o/r", "issueNumber": 3,
                         "toolName": f"t{i}", "turn": i})
    await post(api, {"type": "HEARTBEAT", "agentId": "dev-e-1"})  # another stream in between
    resp = await api.get("/api/events/stream", params={"id": "o/r#3"})
    events = await resp.json()
    assert [e["version"] for e in events] == [1, 2, 3, 4, 5]
    first = events[0]
    assert first["type"] == "TOOL_USED" and first["toolName"] == "t0" and first["streamId"] == "o/r#3"
    assert first["sequence"] == 1 and first["timestamp"].endswith("Z") and first["isMcp"] is False
    page = await (await api.get("/api/events/stream?id=o/r%233&from=4&limit=1")).json()
    assert [e["version"] for e in page] == [4]


async def test_stream_feed_errors(api: TestClient) -> None:
    assert (await api.get("/api/events/stream")).status == 400
    assert (await api.get("/api/events/stream?id=o/r%239")).status == 404
    bad = await api.get("/api/events/stream?id=o/r%239&limit=abc")
    assert bad.status == 400 and "limit" in (await bad.json())["message"]
    assert (await api.get("/api/events/stream?id=x&limit=0")).status == 400


async def test_global_feed_after_sequence(api: TestClient) -> None:
    for n in range(1, 6):
        await post(api, {"type": "ISSUE_APPROVED", "repo": "o/r", "issueNumber": n, "title": f"#{n}"})
    all_events = await (await api.get("/api/events")).json()
    assert [e["sequence"] for e in all_events] == [1, 2, 3, 4, 5]
    tail = await (await api.get("/api/events?after=3&limit=1")).json()
    assert [(e["sequence"], e["issueNumber"]) for e in tail] == [(4, 4)]
    assert (await api.get("/api/events?after=-1")).status == 400


async def test_health_up(api: TestClient) -> None:
    resp = await api.get("/health")
    assert resp.status == 200 and (await resp.json())["database"] == "up"


async def test_health_503_and_append_503_when_database_is_gone(clock: FakeClock) -> None:
    # A pool pointed at a port where nothing listens: every query fails to connect.
    pool = await asyncpg.create_pool("postgresql://nobody@127.0.0.1:9/none", min_size=0, max_size=1)
    store = PostgresEventStore(pool, clock=clock)
    await store.start()
    try:
        async with TestClient(TestServer(create_app(ApiDeps(store=store, read_models=PostgresReadModels(pool), clock=clock)))) as api:
            health = await api.get("/health")
            assert health.status == 503
            resp = await api.post("/api/events", json={"type": "HEARTBEAT", "agentId": "a"})
            assert resp.status == 503
            assert (await resp.json())["error"] == "store_unavailable"
    finally:
        await store.close()
        await pool.close()


async def test_seed_sample_queries_run_verbatim(api: TestClient, db: asyncpg.Pool) -> None:
    tools = [("acme/app", "Bash", 100, False), ("acme/app", "Bash", 300, True), ("acme/app", "Read", 10, False),
             ("acme/web", "Bash", 50, False)]
    for repo, tool, ms, mcp in tools:
        await post(api, {"type": "TOOL_USED", "agentId": "dev-e-1", "repo": repo, "issueNumber": 1,
                         "toolName": tool, "durationMs": ms, "isMcp": mcp})
    for agent, used in [("dev-e-1", True), ("dev-e-1", False), ("dev-e-1", True), ("review-e", False)]:
        await post(api, {"Type": "MEMORY_HIT_USED", "MemoryId": "m", "AgentId": agent, "UsedInOutput": used})

    rows = [tuple(r) for r in await db.fetch(SEED_TOP_TOOLS)]
    assert rows[0] == ("acme/app", "Bash", 2, 200, 1)
    assert sorted(rows[1:]) == [("acme/app", "Read", 1, 10, 0), ("acme/web", "Bash", 1, 50, 0)]

    hits = [(r["agent_id"], r["total_hits"], r["used_count"], float(r["used_pct"]))
            for r in await db.fetch(SEED_MEMORY_QUALITY)]
    assert hits == [("dev-e-1", 3, 2, 66.7), ("review-e", 1, 0, 0.0)]


async def test_list_routes_are_paged_with_a_link_header(api: TestClient) -> None:
    for n in range(1, 8):
        resp = await api.post("/api/events", json={"type": "ISSUE_APPROVED", "repo": "o/r", "issueNumber": n})
        assert resp.status == 201
    first = await api.get("/api/issues", params={"limit": 3})
    assert first.status == 200 and [i["issueNumber"] for i in await first.json()] == [1, 2, 3]
    assert first.headers["X-Total-Count"] == "7"
    links = first.headers["Link"]
    assert '<' in links and 'rel="next"' in links and 'rel="prev"' not in links and 'rel="last"' in links
    next_url = links.split(">; rel=\"next\"")[0].lstrip("<")
    assert "page=2" in next_url and "limit=3" in next_url
    second = await api.get(next_url)
    assert [i["issueNumber"] for i in await second.json()] == [4, 5, 6]
    last = await api.get("/api/issues", params={"limit": 3, "page": 3})
    assert [i["issueNumber"] for i in await last.json()] == [7] and 'rel="next"' not in last.headers["Link"]
    assert len(await (await api.get("/api/queue", params={"limit": 2, "page": 2})).json()) == 2
    assert (await api.get("/api/queue")).headers["X-Total-Count"] == "7"
    for bad in ({"limit": 0}, {"limit": 1001}, {"page": 0}, {"limit": "x"}):
        resp = await api.get("/api/issues", params=bad)
        assert resp.status == 400 and (await resp.json())["error"] == "invalid_query", bad
    default = await api.get("/api/agents")
    assert default.status == 200 and default.headers["X-Total-Count"] == "0" and await default.json() == []
