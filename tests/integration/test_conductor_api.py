"""The conductor end to end: projections, routes, claims and recovery rules through HTTP."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import asyncpg
from aiohttp.test_utils import TestClient

from eventstore.conductor import detect_silent_assignees
from eventstore.postgres.rebuild import rebuild_documents
from eventstore.postgres.store import PostgresEventStore
from eventstore.projections.projector import DOCUMENT_TYPES, RigProjector

from ..conftest import FakeClock

REPO = "acme/app"


async def post(api: TestClient, body: dict) -> dict:
    resp = await api.post("/api/events", json=body)
    assert resp.status == 201, await resp.text()
    return await resp.json()


async def approve(api: TestClient, n: int, **extra: object) -> None:
    await post(api, {"type": "ISSUE_APPROVED", "repo": REPO, "issueNumber": n, "title": f"issue {n}", **extra})


async def issue(api: TestClient, n: int) -> dict:
    resp = await api.get(f"/api/issues/{REPO}/{n}")
    assert resp.status == 200
    return await resp.json()


async def types_on(api: TestClient, n: int) -> list[str]:
    return [e["type"] for e in await (await api.get("/api/events/stream", params={"id": f"{REPO}#{n}"})).json()]


async def test_agents_overview_from_heartbeats_never_lists_issue_streams(api: TestClient, clock: FakeClock) -> None:
    await post(api, {
        "type": "HEARTBEAT", "agentId": "dev-e-node/abc12", "status": "working", "currentIssue": 1,
        "currentRepo": REPO, "activeProvider": "anthropic", "availableProviders": ["anthropic", "openai"],
        "providers": [{"name": "anthropic", "status": "ready", "details": None, "active": True},
                      {"name": "openai", "status": "cooldown", "details": "429", "active": False}],
        "integrations": [{"name": "github", "status": "connected", "details": None}],
    })
    await post(api, {"type": "HEARTBEAT", "agentId": "review-e", "status": "idle"})
    await approve(api, 1)
    await post(api, {"type": "TOOL_USED", "agentId": "dev-e-1", "repo": REPO, "issueNumber": 1, "toolName": "x"})
    agents = await (await api.get("/api/agents")).json()
    assert [a["id"] for a in agents] == ["dev-e-node/abc12", "review-e"]
    dev = agents[0]
    assert dev["isOnline"] is True and dev["activeProvider"] == "anthropic"
    assert dev["providers"][1] == {"name": "openai", "status": "cooldown", "details": "429", "active": False}
    assert dev["integrations"] == [{"name": "github", "status": "connected", "details": None}]
    assert dev["degraded"] == ["openai: cooldown"] and dev["currentIssue"] == 1
    clock.advance(minutes=4)
    one = await (await api.get("/api/agents/dev-e-node/abc12")).json()
    assert one["isOnline"] is False and one["lastHeartbeat"] == "2026-04-02T06:56:22Z"
    assert (await api.get("/api/agents/nobody")).status == 404


async def test_issue_filters_and_lookup(api: TestClient) -> None:
    await approve(api, 1)
    await approve(api, 2)
    await post(api, {"type": "ISSUE_APPROVED", "repo": "acme/web", "issueNumber": 3})
    await post(api, {"type": "ISSUE_ASSIGNED", "repo": REPO, "issueNumber": 2, "agentId": "dev-e-1"})
    queued = await (await api.get("/api/issues?state=queued")).json()
    assert [(i["repo"], i["issueNumber"]) for i in queued] == [(REPO, 1), ("acme/web", 3)]
    mine = await (await api.get(f"/api/issues?repo={REPO}")).json()
    assert [i["issueNumber"] for i in mine] == [1, 2]
    two = await issue(api, 2)
    assert two["state"] == "assigned" and two["assignedAgent"] == "dev-e-1" and two["id"] == f"{REPO}#2"
    assert (await api.get("/api/issues?state=nope")).status == 400
    assert (await api.get(f"/api/issues/{REPO}/99")).status == 404


async def test_queue_order_and_dependencies(api: TestClient, clock: FakeClock) -> None:
    await approve(api, 1, priority="low")
    clock.advance(seconds=1)
    await approve(api, 2, priority="normal")
    clock.advance(seconds=1)
    await approve(api, 3, priority="critical", dependsOn=[4])
    await approve(api, 4, priority="high")
    clock.advance(seconds=1)
    await approve(api, 5, priority="normal")
    queue = await (await api.get("/api/queue")).json()
    assert [i["issueNumber"] for i in queue] == [4, 2, 5, 1]
    await post(api, {"type": "ISSUE_DONE", "repo": REPO, "issueNumber": 4})
    queue = await (await api.get("/api/queue")).json()
    assert [i["issueNumber"] for i in queue] == [3, 2, 5, 1]


async def test_assignments_next_claims_holds_and_204(api: TestClient) -> None:
    assert (await api.get("/api/assignments/next?agentId=dev-e-1")).status == 204
    await approve(api, 1)
    first = await api.get("/api/assignments/next?agentId=dev-e-1")
    assert first.status == 200
    body = await first.json()
    assert body["issueNumber"] == 1 and body["assignedAgent"] == "dev-e-1" and body["claimed"] is True
    again = await (await api.post("/api/assignments/next", json={"agentId": "dev-e-1"})).json()
    assert again["issueNumber"] == 1 and again["claimed"] is False
    assert (await api.get("/api/assignments/next?agentId=dev-e-2")).status == 204
    assert await types_on(api, 1) == ["ISSUE_APPROVED", "ISSUE_ASSIGNED"]
    agent = await (await api.get("/api/agents/dev-e-1")).json()
    assert agent["assignment"] == f"{REPO}#1" and agent["isOnline"] is False
    assert (await api.get("/api/assignments/next")).status == 400
    assert (await api.get("/api/assignments/next?agentId=a%23b")).status == 400


async def test_twenty_agents_ten_issues_distinct_claims(api: TestClient) -> None:
    for n in range(1, 11):
        await approve(api, n)
    responses = await asyncio.gather(*(api.get(f"/api/assignments/next?agentId=dev-e-{i}") for i in range(20)))
    got = [(await r.json())["issueNumber"] for r in responses if r.status == 200]
    assert sorted(got) == list(range(1, 11))
    assert sum(r.status == 204 for r in responses) == 10


async def test_stuck_twice_unassigns_then_escalates_and_never_rehands(api: TestClient) -> None:
    await approve(api, 1)
    assert (await (await api.get("/api/assignments/next?agentId=dev-e-1")).json())["issueNumber"] == 1
    await post(api, {"type": "AGENT_STUCK", "agentId": "dev-e-1", "repo": REPO, "issueNumber": 1, "reason": "sla"})
    doc = await issue(api, 1)
    assert doc["state"] == "queued" and doc["assignedAgent"] is None and doc["stuckAgents"] == ["dev-e-1"]
    assert (await api.get("/api/assignments/next?agentId=dev-e-1")).status == 204
    assert (await (await api.get("/api/assignments/next?agentId=dev-e-2")).json())["issueNumber"] == 1
    await post(api, {"type": "AGENT_STUCK", "agentId": "dev-e-2", "repo": REPO, "issueNumber": 1})
    doc = await issue(api, 1)
    assert doc["state"] == "failed" and doc["escalation"]["rule"] == "two-strikes"
    assert await types_on(api, 1) == ["ISSUE_APPROVED", "ISSUE_ASSIGNED", "AGENT_STUCK", "ISSUE_UNASSIGNED",
                                      "ISSUE_ASSIGNED", "AGENT_STUCK", "ESCALATED"]
    stream = await (await api.get("/api/events/stream", params={"id": f"{REPO}#1"})).json()
    assert stream[3]["causedBy"] == stream[2]["eventId"] and stream[3]["rule"] == "stuck-first-strike"
    agent = await (await api.get("/api/agents/dev-e-2")).json()
    assert agent["assignment"] is None and agent["stuckCount"] == 1


async def test_smoke_failures_escalate_on_the_third_and_on_external(api: TestClient) -> None:
    await approve(api, 1)
    for attempt in (1, 2, 3):
        await post(api, {"type": "SMOKE_FAILED", "repo": REPO, "issueNumber": 1, "reason": "code", "attempt": attempt})
    assert (await types_on(api, 1)).count("ESCALATED") == 1
    assert (await issue(api, 1))["escalation"]["rule"] == "smoke-retries"
    await approve(api, 2)
    await post(api, {"type": "SMOKE_FAILED", "repo": REPO, "issueNumber": 2, "reason": "external_dependency"})
    assert (await issue(api, 2))["state"] == "failed"


async def test_milestone_complete_once(api: TestClient) -> None:
    for n in (1, 2):
        await approve(api, n, milestone="v1")
    await approve(api, 3)
    await post(api, {"type": "ISSUE_DONE", "repo": REPO, "issueNumber": 1})
    await post(api, {"type": "ISSUE_DONE", "repo": REPO, "issueNumber": 2})
    await post(api, {"type": "ISSUE_DONE", "repo": REPO, "issueNumber": 2})  # a repeated report
    feed = await (await api.get("/api/events?limit=1000")).json()
    complete = [e for e in feed if e["type"] == "MILESTONE_COMPLETE"]
    assert len(complete) == 1
    assert (complete[0]["milestone"], complete[0]["issueCount"], complete[0]["streamId"]) == \
        ("v1", 2, f"{REPO}@milestone:v1")


async def test_no_heartbeat_makes_the_assignee_stuck_once_across_two_writers(
        api: TestClient, store: PostgresEventStore, db: asyncpg.Pool, clock: FakeClock) -> None:
    await approve(api, 1)
    await api.get("/api/assignments/next?agentId=dev-e-1")
    timeout = timedelta(minutes=10)
    assert await detect_silent_assignees(store, clock.advance(minutes=9), timeout) == 0
    other = PostgresEventStore(db, clock=clock, projector=RigProjector())  # a second process
    await other.start()
    try:
        now = clock.advance(minutes=2)
        counts = await asyncio.gather(detect_silent_assignees(store, now, timeout),
                                      detect_silent_assignees(other, now, timeout))
    finally:
        await other.close()
    assert sorted(counts) == [0, 1]
    assert await types_on(api, 1) == ["ISSUE_APPROVED", "ISSUE_ASSIGNED", "AGENT_STUCK", "ISSUE_UNASSIGNED"]
    assert await detect_silent_assignees(store, clock.advance(minutes=30), timeout) == 0


async def test_rebuild_projections_yields_the_same_documents(api: TestClient, db: asyncpg.Pool,
                                                             clock: FakeClock) -> None:
    await post(api, {"type": "HEARTBEAT", "agentId": "dev-e-1", "providers": [{"name": "p", "status": "ready"}]})
    for n in (1, 2, 3):
        await approve(api, n, milestone="v1", dependsOn=[n - 1] if n > 1 else [])
        clock.advance(seconds=5)
    await api.get("/api/assignments/next?agentId=dev-e-1")
    await post(api, {"type": "AGENT_STUCK", "agentId": "dev-e-1", "repo": REPO, "issueNumber": 1})
    await post(api, {"type": "HUMAN_GATE_TRIGGERED", "repo": REPO, "issueNumber": 2, "reason": "auth"})
    await post(api, {"type": "ISSUE_DONE", "repo": REPO, "issueNumber": 3})
    await post(api, {"type": "TOKEN_USAGE", "agentId": "dev-e-1", "costUsd": 0.5})

    async def snapshot() -> dict:
        out = {}
        for model in DOCUMENT_TYPES:
            table = "mt_doc_" + model.__name__.lower()
            out[table] = {r["id"]: r["data"] for r in await db.fetch(f"SELECT id, data FROM {table}")}
        return out

    before = await snapshot()
    async with db.acquire() as conn:
        await conn.execute("UPDATE mt_doc_issuestatus SET data = '{}'::jsonb")  # damage them
        count = await rebuild_documents(conn, RigProjector(), DOCUMENT_TYPES)
    # Only the events that change documents are read: the TOKEN_USAGE is skipped.
    assert count == await db.fetchval("SELECT count(*) FROM mt_events WHERE type <> 'token_usage'")
    assert await snapshot() == before
    assert len(before["mt_doc_issuestatus"]) == 3 and len(before["mt_doc_agentstatus"]) == 1


async def test_rebuild_beside_a_running_store_invalidates_its_cached_documents(
        api: TestClient, db: asyncpg.Pool) -> None:
    await approve(api, 1)  # the store now caches acme/app#1's document
    # an event written around the store (as another tool or Marten itself might), then a rebuild
    await db.execute("""INSERT INTO mt_events (seq_id, id, stream_id, version, data, type, "timestamp")
                        VALUES (nextval('mt_events_sequence'), gen_random_uuid(), 'acme/app#1', 2,
                                '{"Repo": "acme/app", "IssueNumber": 1, "PrNumber": 5}', 'pr_created', now())""")
    await db.execute("UPDATE mt_streams SET version = 2 WHERE id = 'acme/app#1'")
    async with db.acquire() as conn:
        await rebuild_documents(conn, RigProjector(), DOCUMENT_TYPES)
    await post(api, {"type": "CI_PASSED", "repo": REPO, "issueNumber": 1})
    doc = await issue(api, 1)
    assert (doc["prNumber"], doc["eventCount"], doc["ciStatus"]) == (5, 3, "passed")


async def test_nul_in_a_url_or_an_agent_id_is_a_400_on_every_route(api: TestClient) -> None:
    # PostgreSQL's text cannot hold NUL: such lookups used to fail in the database (500, or 503)
    for url, code in [("/api/events/stream?id=%00", "invalid_query"),
                      ("/api/events/stream?id=a%00b&from=1", "invalid_query"),
                      ("/api/agents/a%00b", "invalid_path"),
                      ("/api/issues?repo=%00", "invalid_query"),
                      ("/api/issues/o%00/r/1", "invalid_path"),
                      ("/api/assignments/next?agentId=%00", "invalid_query")]:
        resp = await api.get(url)
        assert (resp.status, (await resp.json())["error"]) == (400, code), url
    resp = await api.post("/api/assignments/next", json={"agentId": "a\x00b"})
    assert resp.status == 400 and (await resp.json())["error"] == "invalid_query"


async def test_rebuild_beside_appends_keeps_every_document_and_index(db: asyncpg.Pool, clock: FakeClock) -> None:
    import time

    from eventstore.events import parse_event
    from eventstore.postgres.schema import migrate
    from eventstore.store import PendingEvent

    store = PostgresEventStore(db, clock=clock, projector=RigProjector())
    await store.start()
    indexes = "SELECT indexname FROM pg_indexes WHERE tablename = 'mt_doc_issuestatus' ORDER BY 1"
    names_before = [r["indexname"] for r in await db.fetch(indexes)]
    stop, waits = asyncio.Event(), []

    async def append_all_along() -> int:
        n = 0
        while not stop.is_set():
            n += 1
            started = time.perf_counter()
            await store.append(PendingEvent.of(parse_event("ISSUE_APPROVED", {"repo": REPO, "issueNumber": n})))
            await store.append(PendingEvent.of(parse_event("TOOL_USED", {"agentId": "a", "toolName": "x"})))
            waits.append(time.perf_counter() - started)
        return n

    try:
        for n in range(1, 300):
            await store.append(PendingEvent.of(parse_event("ISSUE_APPROVED", {"repo": "o/seed", "issueNumber": n})))
        appender = asyncio.create_task(append_all_along())
        await asyncio.sleep(0.05)
        async with db.acquire() as conn:
            await rebuild_documents(conn, RigProjector(), DOCUMENT_TYPES)
        stop.set()
        approved = await appender
    finally:
        await store.close()
    assert approved > 0 and max(waits) < 1.0
    assert await db.fetchval("SELECT count(*) FROM mt_doc_issuestatus") == 299 + approved
    assert [r["indexname"] for r in await db.fetch(indexes)] == names_before
    assert await db.fetchval("SELECT to_regclass('mt_doc_issuestatus__rebuild')") is None
    async with db.acquire() as conn:  # nothing is missing for the next start-up
        from eventstore.postgres import schema
        assert await schema.is_complete(conn)
        await migrate(conn)
