"""Schema: created idempotently, and an existing Marten (v8) database keeps working."""

from __future__ import annotations

import asyncio

import asyncpg

from eventstore.events import parse_event
from eventstore.postgres.schema import migrate
from eventstore.postgres.store import PostgresEventStore, init_connection
from eventstore.projections.projector import RigProjector
from eventstore.store import PendingEvent

from ..conftest import FakeClock

# What Marten v8 created (Rich append mode, snapshot columns on mt_streams, no bdata on mt_events),
# with one event it had stored.
MARTEN_V8 = """
CREATE TABLE mt_streams (id varchar NOT NULL, type varchar NULL, version bigint NULL,
  "timestamp" timestamptz NOT NULL DEFAULT (now()), snapshot jsonb NULL, snapshot_version integer NULL,
  created timestamptz NOT NULL DEFAULT (now()), tenant_id varchar NULL DEFAULT '*DEFAULT*',
  is_archived bool NULL DEFAULT FALSE, CONSTRAINT pkey_mt_streams_id PRIMARY KEY (id));
CREATE SEQUENCE mt_events_sequence;
CREATE TABLE mt_events (seq_id bigint NOT NULL, id uuid NOT NULL, stream_id varchar NULL,
  version bigint NOT NULL, data jsonb NOT NULL, type varchar(500) NOT NULL,
  "timestamp" timestamptz NOT NULL DEFAULT '2024-01-01', tenant_id varchar NULL DEFAULT '*DEFAULT*',
  mt_dotnet_type varchar NULL, is_archived bool NULL DEFAULT FALSE,
  CONSTRAINT pkey_mt_events_seq_id PRIMARY KEY (seq_id),
  CONSTRAINT fkey_mt_events_stream_id FOREIGN KEY (stream_id) REFERENCES mt_streams(id) ON DELETE CASCADE);
CREATE UNIQUE INDEX pk_mt_events_stream_and_version ON mt_events (stream_id, version);
INSERT INTO mt_streams (id, type, version) VALUES ('dashecorp/conductor-e#42', 'issue_status', 1);
INSERT INTO mt_events (seq_id, id, stream_id, version, data, type, "timestamp", mt_dotnet_type)
VALUES (nextval('mt_events_sequence'), gen_random_uuid(), 'dashecorp/conductor-e#42', 1,
        '{"Repo":"dashecorp/conductor-e","IssueNumber":42,"Title":"old","Priority":"normal","DependsOn":[]}',
        'issue_approved', now(), 'ConductorE.Core.Domain.IssueApproved, ConductorE.Core');
"""


async def test_existing_marten_v8_database_keeps_working(fresh_dsn: str, clock: FakeClock) -> None:
    conn = await asyncpg.connect(fresh_dsn)
    await conn.execute(MARTEN_V8)
    await init_connection(conn)
    await migrate(conn)
    await migrate(conn)  # idempotent
    await conn.close()

    pool = await asyncpg.create_pool(fresh_dsn, init=init_connection, min_size=1, max_size=2)
    store = PostgresEventStore(pool, clock=clock, projector=RigProjector())
    await store.start()
    try:
        old = await store.read_stream("dashecorp/conductor-e#42")
        assert old[0].wire_name == "ISSUE_APPROVED" and old[0].event.title == "old"  # type: ignore[union-attr]
        result = await store.append(PendingEvent.of(parse_event(
            "ISSUE_ASSIGNED", {"repo": "dashecorp/conductor-e", "issueNumber": 42, "agentId": "dev-e-1"})))
        assert (result.recorded.version, result.recorded.seq) == (2, 2)
        snapshot = await pool.fetchval("SELECT snapshot FROM mt_streams WHERE id = 'dashecorp/conductor-e#42'")
        assert snapshot is None
    finally:
        await store.close()
        await pool.close()


async def test_concurrent_migrations_and_two_writers_share_one_sequence(fresh_dsn: str, clock: FakeClock) -> None:
    pools = [await asyncpg.create_pool(fresh_dsn, init=init_connection, min_size=1, max_size=2) for _ in range(2)]
    try:
        async def migrate_with(pool: asyncpg.Pool) -> None:
            async with pool.acquire() as c:
                await migrate(c)

        await asyncio.gather(*(migrate_with(p) for p in pools))
        stores = [PostgresEventStore(p, clock=clock, projector=RigProjector()) for p in pools]
        for s in stores:
            await s.start()
        event = parse_event("TOOL_USED", {"agentId": "a", "repo": "o/r", "issueNumber": 1, "toolName": "x"})
        await asyncio.gather(*(stores[i % 2].append(PendingEvent.of(event)) for i in range(300)))
        rows = await pools[0].fetch("SELECT seq_id, version FROM mt_events ORDER BY seq_id")
        assert [r["version"] for r in rows] == list(range(1, 301))
        assert [r["seq_id"] for r in rows] == list(range(1, 301))
        for s in stores:
            await s.close()
    finally:
        for p in pools:
            await p.close()


async def test_two_writers_with_state_reads_stay_consistent(fresh_dsn: str, clock: FakeClock) -> None:
    """Batches that read state race between processes: a stale read is redone under the lock."""
    pools = [await asyncpg.create_pool(fresh_dsn, init=init_connection, min_size=1, max_size=2) for _ in range(2)]
    try:
        async with pools[0].acquire() as c:
            await migrate(c)
        stores = [PostgresEventStore(p, clock=clock, projector=RigProjector()) for p in pools]
        for s in stores:
            await s.start()
        events = [parse_event("REVIEW_DISPUTED", {"repo": "o/r", "issueNumber": 1, "attempt": i}) for i in range(200)]
        await asyncio.gather(*(stores[i % 2].append(PendingEvent.of(e)) for i, e in enumerate(events)))
        rows = await pools[0].fetch("SELECT version FROM mt_events ORDER BY seq_id")
        assert [r["version"] for r in rows] == list(range(1, 201))
        doc = await pools[0].fetchval("SELECT data FROM mt_doc_issuestatus WHERE id = 'o/r#1'")
        assert doc["EventCount"] == 200  # no update lost to a stale read
        for s in stores:
            await s.close()
    finally:
        for p in pools:
            await p.close()


async def test_a_cached_document_made_stale_by_another_process_is_never_used(fresh_dsn: str,
                                                                              clock: FakeClock) -> None:
    pools = [await asyncpg.create_pool(fresh_dsn, init=init_connection, min_size=1, max_size=2) for _ in range(2)]
    try:
        async with pools[0].acquire() as c:
            await migrate(c)
        a, b = (PostgresEventStore(p, clock=clock, projector=RigProjector()) for p in pools)
        await a.start()
        await b.start()
        issue = {"repo": "o/r", "issueNumber": 1}
        await a.append(PendingEvent.of(parse_event("ISSUE_APPROVED", {**issue, "title": "t"})))  # a caches the doc
        await b.append(PendingEvent.of(parse_event("PR_CREATED", {**issue, "prNumber": 5})))  # b changes it
        await a.append(PendingEvent.of(parse_event("CI_PASSED", issue)))  # a's cached doc is stale now
        doc = await pools[0].fetchval("SELECT data FROM mt_doc_issuestatus WHERE id = 'o/r#1'")
        assert (doc["EventCount"], doc["PrNumber"], doc["CiStatus"], doc["State"]) == (3, 5, "passed", "in_review")
        await a.close()
        await b.close()
    finally:
        for p in pools:
            await p.close()


async def test_start_up_migrations_beside_a_running_service_change_nothing(db: asyncpg.Pool, clock: FakeClock) -> None:
    from eventstore.events import parse_event
    from eventstore.postgres.schema import migrate
    from eventstore.postgres.store import PostgresEventStore
    from eventstore.projections.projector import RigProjector
    from eventstore.store import PendingEvent

    before = await db.fetchval("SELECT oid FROM pg_proc WHERE proname = 'ce_append_batch'")
    store = PostgresEventStore(db, clock=clock, projector=RigProjector())
    await store.start()
    stop = asyncio.Event()

    async def append_all_along() -> int:
        n = 0
        while not stop.is_set():
            n += 1
            await store.append(PendingEvent.of(parse_event("ISSUE_APPROVED", {"repo": "o/r", "issueNumber": n})))
        return n

    try:
        appender = asyncio.create_task(append_all_along())
        for _ in range(5):  # other processes starting up
            async with db.acquire() as conn:
                await migrate(conn)
        stop.set()
        assert await appender > 0  # and none of the appends failed
    finally:
        await store.close()
    assert await db.fetchval("SELECT oid FROM pg_proc WHERE proname = 'ce_append_batch'") == before
