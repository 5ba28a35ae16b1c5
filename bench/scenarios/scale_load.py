"""Loading the scale scenario's events into the service's database, two ways.

``copy`` (the default): each body goes through the service's own submission code
(``parse_submission``: parsing, checking, the stored JSON text, routing to its stream, the event id)
and becomes the row ``ce_append_batch`` would insert: the next version of its stream, the next
sequence number, the event's stored alias and .NET type, one timestamp per 500 events (one per
writer batch). Rows go in with COPY, the stream rows with the function's own upsert, and then
``conductor-e rebuild-projections`` (the caller runs it) derives every document from the log with
the service's projections. The workload triggers no rule, so the log is the one the service would
have written; COPY spares PostgreSQL the per-batch function call, which bounds an append load to
about 5,000 events/s on this machine however it is sent.

``store``: the same bodies through the SubmitEvent use case into a ``PostgresEventStore`` in this
process (the writer's group commit, inline projections), as ``POST /api/events`` runs them without
aiohttp in front. Slower; there to check that both ways store the same.

Either way bodies are numbered in the workload's order, so an issue's approval always comes
before its later events.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol

import asyncpg
import orjson

from eventstore.postgres.connections import open_pool
from eventstore.postgres.documents import event_dotnet_type
from eventstore.postgres.store import PostgresEventStore
from eventstore.projections.projector import RigProjector
from eventstore.store import AppendResult
from eventstore.submission import parse_submission
from eventstore.submit import submit_event

log = logging.getLogger("bench")

BATCH = 500  # events per timestamp: the writer's largest batch
CHUNK = 20_000  # rows per COPY
WINDOW = 2_000  # bodies handed to the store's writer at once (method "store")
_COLUMNS = ("seq_id", "id", "stream_id", "version", "data", "type", "timestamp", "tenant_id", "mt_dotnet_type",
            "is_archived")
# ce_append_batch's stream upsert, for a chunk's streams at once.
_UPSERT_STREAMS = """
INSERT INTO mt_streams AS m (id, type, version, "timestamp", created, tenant_id, is_archived)
SELECT s.id, s.kind, s.version, s.ts, s.first_ts, '*DEFAULT*', FALSE
FROM unnest($1::text[], $2::text[], $3::bigint[], $4::timestamptz[], $5::timestamptz[])
     AS s(id, kind, version, ts, first_ts)
ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version, "timestamp" = EXCLUDED."timestamp"
"""


class Bodies(Protocol):
    """Where the bodies come from (``ScaleWorkload``): the next one, as JSON text."""

    def next_body(self) -> str: ...


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class LoadResult:
    events: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


async def load(dsn: str, workload: Bodies, count: int, method: str = "copy") -> LoadResult:
    """Append the next ``count`` bodies of ``workload`` (documents: see the module's docstring)."""
    pool = await open_pool(dsn, max_size=2)  # the schema, migrated as the service does
    try:
        if method == "store":
            return await _through_store(pool, workload, count)
    finally:
        await pool.close()
    conn = await asyncpg.connect(dsn)  # no codecs: jsonb goes in as the text submission made
    try:
        return await _copy(conn, workload, count)
    finally:
        await conn.close()


async def _copy(conn: asyncpg.Connection, workload: Bodies, count: int) -> LoadResult:
    started = time.perf_counter()
    seq = int(await conn.fetchval("SELECT coalesce(max(seq_id), 0) FROM mt_events"))
    versions = {r["id"]: int(r["version"] or 0) for r in await conn.fetch("SELECT id, version FROM mt_streams")}
    done = 0
    writing: asyncio.Task[None] | None = None
    try:
        while done < count:
            n = min(CHUNK, count - done)
            rows, streams = await _rows(workload, n, seq, versions)
            seq += n
            if writing is not None:  # one chunk in PostgreSQL while the next one is made
                await writing
            writing = asyncio.create_task(_write(conn, rows, streams))
            done += n
            if done % 100_000 < n:
                log.info("  loaded %s of %s events (%.0f ev/s)", f"{done:,}", f"{count:,}",
                         done / (time.perf_counter() - started))
        if writing is not None:
            await writing
    finally:
        if writing is not None and not writing.done():
            writing.cancel()
    await conn.execute("SELECT setval('mt_events_sequence', $1)", max(seq, 1))
    return LoadResult(count, time.perf_counter() - started)


async def _rows(workload: Bodies, n: int, seq: int, versions: dict[str, int]
                ) -> tuple[list[tuple[Any, ...]], dict[str, list[Any]]]:
    """The next ``n`` events as mt_events rows (after sequence number ``seq``), and their streams
    (id -> [kind, version, last timestamp, first timestamp]); ``versions`` is kept up to date."""
    rows: list[tuple[Any, ...]] = []
    streams: dict[str, list[Any]] = {}
    ts = _utc_now()
    for i in range(n):
        if i % BATCH == 0:
            ts = _utc_now()
            await asyncio.sleep(0)  # the previous chunk's COPY goes on meanwhile
        pending = parse_submission(orjson.loads(workload.next_body()))
        stream = pending.stream
        version = versions.get(stream.id, 0) + 1
        versions[stream.id] = version
        rows.append((seq + i + 1, pending.event_id, stream.id, version, pending.data_json.decode(),
                     pending.event.alias, ts, "*DEFAULT*", event_dotnet_type(type(pending.event)), False))
        entry = streams.get(stream.id)
        if entry is None:
            streams[stream.id] = [stream.kind.value, version, ts, ts]
        else:
            entry[1], entry[2] = version, ts
    return rows, streams


async def _write(conn: asyncpg.Connection, rows: list[tuple[Any, ...]], streams: dict[str, list[Any]]) -> None:
    ids = list(streams)
    async with conn.transaction():  # the streams first: mt_events' foreign key
        await conn.execute(_UPSERT_STREAMS, ids, *([streams[s][k] for s in ids] for k in range(4)))
        await conn.copy_records_to_table("mt_events", records=rows, columns=_COLUMNS)


async def _through_store(pool: asyncpg.Pool, workload: Bodies, count: int) -> LoadResult:
    store = PostgresEventStore(pool, clock=_utc_now, projector=RigProjector(), append_wait=600.0,
                               max_queued=4 * WINDOW)
    await store.start()
    started = time.perf_counter()
    done = 0
    in_flight: asyncio.Future[list[AppendResult]] | None = None
    try:
        while done < count:
            n = min(WINDOW, count - done)
            window = asyncio.gather(*(submit_event(store, orjson.loads(workload.next_body()))[0] for _ in range(n)))
            if in_flight is not None:  # two windows outstanding: the writer never waits for the next one
                await in_flight
            in_flight = window
            done += n
            if done % 100_000 < n:
                log.info("  loaded %s of %s events (%.0f ev/s)", f"{done:,}", f"{count:,}",
                         done / (time.perf_counter() - started))
        if in_flight is not None:
            await in_flight
    finally:
        await store.close()
    return LoadResult(count, time.perf_counter() - started)
