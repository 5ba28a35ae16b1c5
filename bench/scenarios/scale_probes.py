"""The scale scenario's measurements, each with the plain-PostgreSQL query that answers the same
question (asyncpg on a connection of the benchmark's own, no pool, rows as text), so every figure
comes with a ratio that the machine's speed cancels out of."""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import asyncpg
import orjson
import psutil

from eventstore.postgres.queries import QUEUE_HEAD
from eventstore.postgres.stats import SEED_MEMORY_QUALITY, SEED_TOP_TOOLS
from eventstore.projections.projector import RigProjector

from ..harness.service import service_command
from ..harness.stats import percentile

PAGE_SAMPLES = 20  # requests (and queries) per list route and repetition
FEED_PAGE = 1000  # the feed's largest page

# The seed's two queries, verbatim, with a scan of the same rows that extracts nothing from the
# JSON: how much of each is reading mt_events at all.
SEED_QUERIES: dict[str, tuple[str, tuple[Any, ...], str]] = {
    "top_tools": (SEED_TOP_TOOLS, (), "SELECT count(*) FROM mt_events WHERE type = 'tool_used'"),
    "memory_quality": (SEED_MEMORY_QUALITY, (), "SELECT count(*) FROM mt_events WHERE type = 'memory_hit_used'"),
}

# Each list route's first page (default limit, 100), and the bare SELECT ... LIMIT that reads the
# same rows in the same order (without the page's count of all rows).
ISSUE_ORDER = "data->>'Repo' COLLATE \"C\", (data->>'IssueNumber')::int"
LIST_ROUTES: dict[str, tuple[str, str, tuple[Any, ...]]] = {
    "issues": ("/api/issues", f"SELECT data::text FROM mt_doc_issuestatus ORDER BY {ISSUE_ORDER} LIMIT 100", ()),
    "queue": ("/api/queue", QUEUE_HEAD, (100, None)),
    "agents": ("/api/agents", 'SELECT data::text FROM mt_doc_agentstatus ORDER BY id COLLATE "C" LIMIT 100', ()),
    "events": ("/api/events", 'SELECT seq_id, id, stream_id, version, type, "timestamp", data::text FROM mt_events '
                              "WHERE seq_id > 0 ORDER BY seq_id LIMIT 100", ()),
}
FEED_SQL = ('SELECT seq_id, id, stream_id, version, type, "timestamp", data::text FROM mt_events '
            "WHERE seq_id > $1 ORDER BY seq_id LIMIT $2")
# What rebuild-projections reads: the events that change documents, with their stream's kind.
REBUILD_READ = ('SELECT e.seq_id, e.id, e.stream_id, e.version, e.type, e."timestamp", e.data::text, s.type '
                "FROM mt_events e JOIN mt_streams s ON s.id = e.stream_id WHERE e.type <> ALL($1::text[])")
SIZES_SQL = """
SELECT (SELECT count(*) FROM mt_events) AS events,
       pg_total_relation_size('mt_events') AS events_total,
       pg_relation_size('mt_events') AS events_heap,
       pg_indexes_size('mt_events') AS events_indexes,
       pg_total_relation_size('mt_events') - pg_relation_size('mt_events') - pg_indexes_size('mt_events')
           AS events_toast,
       (SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = current_schema() AND c.relkind = 'r') AS all_tables,
       (SELECT avg(octet_length(data::text)) FROM mt_events) AS json_bytes
"""


def _ms(seconds: float) -> float:
    return seconds * 1e3


async def query_s(conn: asyncpg.Connection, sql: str, *args: Any) -> float:
    """Seconds for ``sql``, its rows fetched."""
    started = time.perf_counter()
    await conn.fetch(sql, *args)
    return time.perf_counter() - started


async def seed_queries(conn: asyncpg.Connection, repeat: int) -> dict[str, Any]:
    """Each seed query's median time over ``repeat`` runs (after one untimed run), the scan's beside
    it, and one EXPLAIN ANALYZE plan each."""
    out: dict[str, Any] = {}
    for name, (sql, args, scan) in SEED_QUERIES.items():
        await conn.fetch(sql, *args)
        out[f"{name}_ms"] = _ms(statistics.median([await query_s(conn, sql, *args) for _ in range(repeat)]))
        out[f"{name}_scan_ms"] = _ms(statistics.median([await query_s(conn, scan) for _ in range(repeat)]))
        plan = await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + sql, *args)
        out[f"{name}_plan"] = "\n".join(r[0] for r in plan)
    return out


async def list_pages(http: aiohttp.ClientSession, url: str, conn: asyncpg.Connection) -> dict[str, Any]:
    """p50 of each list route's first page, and of its bare SELECT, over PAGE_SAMPLES each."""
    out: dict[str, Any] = {}
    for name, (path, sql, args) in LIST_ROUTES.items():
        times, size = [], 0
        for _ in range(PAGE_SAMPLES):
            started = time.perf_counter()
            async with http.get(url + path) as resp:
                body = await resp.read()
                if resp.status != 200:
                    raise RuntimeError(f"GET {path} answered {resp.status}: {body[:300]!r}")
                total = resp.headers.get("X-Total-Count")
            times.append(time.perf_counter() - started)
            size = len(body)
        plain = [await query_s(conn, sql, *args) for _ in range(PAGE_SAMPLES)]
        out[f"{name}_page_ms"] = _ms(percentile(sorted(times), 50))
        out[f"{name}_page_sql_ms"] = _ms(percentile(sorted(plain), 50))
        out[f"{name}_page_bytes"] = size
        if total is not None:
            out[f"{name}_total"] = int(total)
    return out


async def feed_catch_up(http: aiohttp.ClientSession, url: str, conn: asyncpg.Connection) -> dict[str, Any]:
    """The whole feed in pages of FEED_PAGE, through /api/events and through its SELECT: events/s."""
    started, after, events = time.perf_counter(), 0, 0
    while True:
        async with http.get(f"{url}/api/events", params={"after": str(after), "limit": str(FEED_PAGE)}) as resp:
            page = orjson.loads(await resp.read())
            if resp.status != 200:
                raise RuntimeError(f"GET /api/events answered {resp.status}: {page}")
        if not page:
            break
        events += len(page)
        after = page[-1]["sequence"]
    http_s = time.perf_counter() - started
    started, after, plain_events = time.perf_counter(), 0, 0
    while rows := await conn.fetch(FEED_SQL, after, FEED_PAGE):
        plain_events += len(rows)
        after = rows[-1]["seq_id"]
    sql_s = time.perf_counter() - started
    return {"feed_events": events, "feed_ev_per_s": events / http_s, "feed_sql_ev_per_s": plain_events / sql_s}


async def queue_head_sql(conn: asyncpg.Connection, count: int) -> float:
    """p50 ms of the claim's queue-head query alone (the head for one agent)."""
    times = [await query_s(conn, QUEUE_HEAD, 1, f"sql-agent-{n}") for n in range(count)]
    return _ms(percentile(sorted(times), 50))


async def disk_sizes(conn: asyncpg.Connection) -> dict[str, Any]:
    row = await conn.fetchrow(SIZES_SQL)
    assert row is not None
    events = max(1, int(row["events"]))
    return {
        "events": int(row["events"]),
        "bytes_per_event": int(row["events_total"]) / events,
        "heap_bytes_per_event": int(row["events_heap"]) / events,
        "index_bytes_per_event": int(row["events_indexes"]) / events,
        "toast_bytes_per_event": int(row["events_toast"]) / events,
        "all_tables_bytes_per_event": int(row["all_tables"]) / events,
        "json_bytes_per_event": float(row["json_bytes"] or 0),
    }


def rss_mb(pid: int) -> float:
    return psutil.Process(pid).memory_info().rss / 2**20


async def rebuild_read_s(conn: asyncpg.Connection) -> tuple[float, int]:
    """How long reading what rebuild-projections reads takes in one query, and how many rows."""
    inert = sorted(RigProjector().inert_aliases())
    started = time.perf_counter()
    rows = await conn.fetch(REBUILD_READ, inert)
    return time.perf_counter() - started, len(rows)


class PacedAppends:
    """Appends at a fixed rate over a few connections (the rig's agents, not a flood), each one's
    send time and latency kept, so a window (a rebuild) can be cut out of them afterwards."""

    def __init__(self, http: aiohttp.ClientSession, url: str, next_body: Callable[[], dict[str, Any]],
                 rate: float = 200.0, connections: int = 8) -> None:
        self._http, self._url, self._next = http, url, next_body
        self._rate, self._connections = rate, connections
        self.samples: list[tuple[float, float, int]] = []  # (sent at, seconds, status)
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        start = time.perf_counter()
        self._tasks = [asyncio.create_task(self._run(c, start)) for c in range(self._connections)]

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks)

    async def _run(self, c: int, start: float) -> None:
        n = 0
        while not self._stop.is_set():
            delay = start + (n * self._connections + c) / self._rate - time.perf_counter()
            n += 1
            if delay > 0:
                try:
                    await asyncio.wait_for(self._stop.wait(), delay)  # pacing; ends early when stopped
                    return
                except TimeoutError:
                    pass
            sent = time.perf_counter()
            async with self._http.post(f"{self._url}/api/events", json=self._next()) as resp:
                await resp.read()
                status = resp.status
            self.samples.append((sent, time.perf_counter() - sent, status))

    def window(self, start: float, end: float) -> dict[str, float]:
        inside = sorted(s for t, s, _ in self.samples if start <= t <= end)
        failed = sum(1 for t, _, status in self.samples if start <= t <= end and not 200 <= status < 300)
        return {"appends": len(inside), "failed": failed, "p50_ms": _ms(percentile(inside, 50)),
                "p99_ms": _ms(percentile(inside, 99)), "max_ms": _ms(inside[-1]) if inside else 0.0}


async def rebuild(dsn: str) -> tuple[float, str]:
    """``conductor-e rebuild-projections`` on ``dsn``, as an operator runs it: seconds, and what it printed."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "CONDUCTOR_E_"))},
           "DATABASE_URL": dsn}
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(*service_command(), "rebuild-projections", env=env,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"rebuild-projections exited with {proc.returncode}: {err.decode(errors='replace')[-2000:]}")
    return time.perf_counter() - started, out.decode(errors="replace").strip()


async def rebuild_beside_appends(http: aiohttp.ClientSession, url: str, dsn: str,
                                 next_body: Callable[[], dict[str, Any]], baseline_s: float = 5.0) -> dict[str, Any]:
    """``rebuild-projections`` while appends go on at a steady rate: its time, and the appends'
    latency during it beside the same load's for ``baseline_s`` just before."""
    load = PacedAppends(http, url, next_body)
    load.start()
    try:
        await asyncio.sleep(baseline_s)  # the baseline window, under the same load
        t0 = time.perf_counter()
        seconds, output = await rebuild(dsn)
        t1 = t0 + seconds
    finally:
        await load.stop()
    during, before = load.window(t0, t1), load.window(t0 - baseline_s, t0)
    return {"rebuild_s": seconds, "rebuild_output": output,
            "rebuild_append_max_ms": during["max_ms"], "rebuild_append_p99_ms": during["p99_ms"],
            "rebuild_appends": during["appends"], "rebuild_append_failed": during["failed"],
            "baseline_append_max_ms": before["max_ms"], "baseline_append_p99_ms": before["p99_ms"]}
