"""The raw limit: single-row INSERTs, one event per transaction, straight from asyncpg.

Each client holds one connection (no pool, so no reset query per append) and runs, in autocommit,
one prepared INSERT after another into ``bench_events``, a table shaped like Marten's ``mt_events``
(same columns, same primary key on ``seq_id`` from a sequence, same unique indexes on
``(stream_id, version)`` and ``id``), in a database of its own. Events are about 300 bytes of JSON
spread over 1,000 streams; client k appends to the streams whose index is k modulo the number of
clients, so stream versions are computed locally and never collide. This is what PostgreSQL on
this machine can do for one event per transaction: the yardstick the HTTP rate is divided by.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from array import array
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from ..harness.stats import latency_summary

DDL = """
CREATE SEQUENCE IF NOT EXISTS bench_events_sequence;
CREATE TABLE IF NOT EXISTS bench_events (
    seq_id         bigint                   NOT NULL DEFAULT nextval('bench_events_sequence'),
    id             uuid                     NOT NULL,
    stream_id      varchar                  NULL,
    version        bigint                   NOT NULL,
    data           jsonb                    NOT NULL,
    bdata          bytea                    NULL,
    type           varchar(500)             NOT NULL,
    "timestamp"    timestamp with time zone NOT NULL DEFAULT (now()),
    tenant_id      varchar                  NULL     DEFAULT '*DEFAULT*',
    mt_dotnet_type varchar                  NULL,
    is_archived    bool                     NULL     DEFAULT FALSE,
    CONSTRAINT pkey_bench_events_seq_id PRIMARY KEY (seq_id)
);
ALTER SEQUENCE bench_events_sequence OWNED BY bench_events.seq_id;
CREATE UNIQUE INDEX IF NOT EXISTS bench_events_stream_and_version ON bench_events USING btree (stream_id, version);
CREATE UNIQUE INDEX IF NOT EXISTS bench_events_event_id ON bench_events USING btree (id);
"""

INSERT = (
    'INSERT INTO bench_events (id, stream_id, version, data, type, "timestamp", tenant_id, mt_dotnet_type, '
    "is_archived) VALUES ($1, $2, $3, $4::jsonb, $5, now(), '*DEFAULT*', $6, FALSE)"
)

STREAMS = 1_000
TARGET_BYTES = 300


def _pascal(key: str) -> str:
    return key[:1].upper() + key[1:]


def raw_events(bodies: list[str], count: int = 20_000) -> list[tuple[str, str, str]]:
    """(type alias, stored JSON ~300 bytes, .NET type) from the HTTP bodies, padded to size."""
    out = []
    for body in bodies[:count]:
        parsed = json.loads(body)
        kind = parsed.pop("type")
        data = {_pascal(k): v for k, v in parsed.items()}
        text = json.dumps(data, separators=(",", ":"))
        if len(text) < TARGET_BYTES:  # agents' bodies are 150-350 bytes; the yardstick uses ~300
            data["Note"] = "x" * max(0, TARGET_BYTES - len(text) - 10)
            text = json.dumps(data, separators=(",", ":"))
        alias = kind.lower()
        out.append((alias, text, f"ConductorE.Core.Events.{alias}, ConductorE.Core"))
    return out


class RawInsert:
    def __init__(self, dsn: str, events: list[tuple[str, str, str]]) -> None:
        self.dsn = dsn
        self.events = events
        self.versions = [0] * STREAMS  # kept across cells: the table keeps growing, like the service's

    async def create_table(self) -> None:
        conn = await asyncpg.connect(self.dsn)
        try:
            await conn.execute(DDL)
        finally:
            await conn.close()

    async def run(self, clients: int, warmup: float, duration: float,
                  on_window: Callable[[str], Awaitable[None] | None]) -> dict[str, Any]:
        """Warm up, then measure ``duration`` seconds; ``on_window("start"|"end")`` brackets the window."""
        conns = await asyncio.gather(*(asyncpg.connect(self.dsn) for _ in range(clients)))
        try:
            if warmup > 0:
                await self._loop(conns, warmup, array("d"))
            mark = on_window("start")
            if mark is not None:
                await mark
            lat = array("d")
            t0 = time.perf_counter()
            await self._loop(conns, duration, lat)
            elapsed = time.perf_counter() - t0
            mark = on_window("end")
            if mark is not None:
                await mark
        finally:
            await asyncio.gather(*(c.close() for c in conns), return_exceptions=True)
        return {"events_per_s": len(lat) / elapsed, "requests": len(lat), "ok": len(lat), "non_2xx": 0,
                "socket_errors": 0, "seconds": elapsed, **latency_summary(lat)}

    async def _loop(self, conns: list[asyncpg.Connection], seconds: float, lat: array) -> None:
        deadline = time.perf_counter() + seconds
        n = len(conns)
        await asyncio.gather(*(self._client(conn, k, n, deadline, lat) for k, conn in enumerate(conns)))

    async def _client(self, conn: asyncpg.Connection, k: int, n: int, deadline: float, lat: array) -> None:
        streams = list(range(k, STREAMS, n))
        events = self.events
        versions = self.versions
        clock = time.perf_counter
        i = k
        while clock() < deadline:
            s = streams[i % len(streams)]
            alias, data, dotnet = events[i % len(events)]
            i += 1
            versions[s] += 1
            stream_id = f"acme/app#{s + 1}"
            event_id = uuid.uuid4()
            t0 = clock()
            await conn.execute(INSERT, event_id, stream_id, versions[s], data, alias, dotnet)
            lat.append(clock() - t0)
