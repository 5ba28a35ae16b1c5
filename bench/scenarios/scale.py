"""Scenario "scale": the service at 10k, 100k and 1M events (30,000 issues at the top), in one run.

One database grows from size to size (``--sizes``, default 10000,100000,1000000): each size loads
the events missing to reach it (``scale_workload.py``'s mix, loaded as ``scale_load.py`` says), lets
``conductor-e rebuild-projections`` derive the documents, runs ``VACUUM ANALYZE`` (what autovacuum
would have done by then on a live database), starts the service as it ships and measures, each
measurement ``--repeat`` times (medians), each beside the plain-PostgreSQL query that answers the
same question (``scale_probes.py``):

- the seed's two analytics queries, verbatim (target: under 0.5 s at 1M events);
- the first page of each list route (/api/issues, /api/queue, /api/agents, /api/events);
- the whole feed read in pages of 1,000 (events/s);
- claims with the queue as deep as it is (about 62 % of the issues), one after another;
- ``rebuild-projections`` beside appends at 200/s, and the longest append wait during it;
- appends' p99 beside 50 agents polling once a second (the claims scenario's cell; target < 50 ms);
- the service's RSS, and bytes per event on disk.

The measurements that append (claims, rebuild, pollers) run on a copy of the database made for them
(CREATE DATABASE … TEMPLATE), with the service started again on it, so the next size grows from
exactly this one. Then the Discord cell (``scale_discord.py``): the notifier catching up on
``--scale-discord-threads`` (30,000) issues without a thread, as shipped and with discord.py's own
rate-limit bucket sweep.
"""

from __future__ import annotations

import copy
import logging
import statistics
import time
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import asyncpg
import orjson

from eventstore.postgres.schema import migrate

from ..harness.postgres import with_database
from ..harness.report import ScenarioReport
from ..harness.runner import Cell, Harness, Options, Scenario
from . import scale_probes as probes
from .claims import POLLERS, appends_beside_pollers, claim_latencies
from .scale_discord import catch_up
from .scale_load import load
from .scale_workload import ScaleWorkload

log = logging.getLogger("bench")

TARGET_SEED_MS = 500.0
TARGET_APPEND_P99_MS = 50.0
TARGET_CLAIM_P50_MS = 10.0
TARGET_REBUILD_WAIT_MS = 1000.0
FLAT = 0.8  # late thread rate at least this share of the early one
MAX_CLAIMS = 200
# The service as it ships, but the no-heartbeat rule never fires for the benchmark's claimants:
# they claim and then never send a heartbeat, and their AGENT_STUCK follow-ups would land in
# later measurements as bursts that have nothing to do with the size.
SERVICE_ENV = {"HEARTBEAT_TIMEOUT_MINUTES": "1440"}

# (label, key, plain key, unit, the plain-PostgreSQL equivalent, the plain one is a rate)
FIGURES: tuple[tuple[str, str, str | None, str, str], ...] = (
    ("seed SQL: top tools", "top_tools_ms", "top_tools_scan_ms", "ms",
     "count(*) of the same rows (type = 'tool_used'), no JSON read"),
    ("seed SQL: memory quality", "memory_quality_ms", "memory_quality_scan_ms", "ms",
     "count(*) of the same rows (type = 'memory_hit_used')"),
    ("GET /api/issues, first page (100)", "issues_page_ms", "issues_page_sql_ms", "ms",
     "SELECT data … ORDER BY repo, number LIMIT 100"),
    ("GET /api/queue, first page (100)", "queue_page_ms", "queue_page_sql_ms", "ms",
     "the queue-head SQL (queries.QUEUE_HEAD), LIMIT 100"),
    ("GET /api/agents, first page (100)", "agents_page_ms", "agents_page_sql_ms", "ms",
     "SELECT data … ORDER BY id LIMIT 100"),
    ("GET /api/events, first page (100)", "events_page_ms", "events_page_sql_ms", "ms",
     "SELECT … FROM mt_events ORDER BY seq_id LIMIT 100"),
    ("feed catch-up, pages of 1,000", "feed_ev_per_s", "feed_sql_ev_per_s", "ev/s",
     "the same SELECT, pages of 1,000"),
    ("claim p50, POST /api/assignments/next", "claim_p50_ms", "queue_head_sql_ms", "ms",
     "the queue-head SQL alone, LIMIT 1"),
    ("claim p99", "claim_p99_ms", None, "ms", ""),
    ("append p99 beside 50 pollers", "append_p99_polled_ms", "append_p99_ms", "ms",
     "the same appends, no pollers"),
    ("rebuild-projections", "rebuild_s", "rebuild_read_s", "s", "one SELECT of the events it folds"),
    ("longest append wait during the rebuild", "rebuild_append_max_ms", "baseline_append_max_ms", "ms",
     "the same load's longest in the 5 s before"),
    ("service RSS after list pages and feed reads", "rss_reads_mb", "rss_start_mb", "MB", "the same process after start"),
    ("service RSS after claims, rebuilds, pollers", "rss_end_mb", "rss_writes_start_mb", "MB",
     "the same process after start"),
    ("bytes per event on disk (mt_events, indexes, TOAST)", "bytes_per_event", "json_bytes_per_event", "B",
     "the event's JSON text"),
)
RATES = {"feed_ev_per_s"}


class ScaleScenario(Scenario):
    name = "scale"
    title = "Scale: 10k, 100k and 1M events (30,000 issues at the top), each figure beside plain PostgreSQL"
    repeats_inside = True

    def __init__(self) -> None:
        self.workload = ScaleWorkload()
        self.dsn = ""

    def cells(self, options: Options) -> list[Cell]:
        cells = [Cell(f"size@{n}", f"{n:,} events", {"size": n}) for n in options.sizes]
        threads = options.scale_discord_threads
        if threads:
            cells += [Cell(f"discord@{threads}", f"Discord, {threads:,} threads", {"threads": threads, "shipped": True}),
                      Cell(f"discord-py@{threads}", f"Discord, {threads:,} threads, discord.py's sweep",
                           {"threads": threads, "shipped": False})]
        return cells

    def plan(self, options: Options, cells: list[Cell]) -> str:
        return (f"sizes {', '.join(f'{n:,}' for n in options.sizes)} (loaded with {options.scale_load}), each "
                f"measurement x {options.repeat}; Discord catch-up with {options.scale_discord_threads:,} threads")

    async def setup(self, h: Harness) -> None:
        self.dsn = await h.postgres.create_database("ce_bench_scale")
        if "search_path=" in urlsplit(self.dsn).query:
            raise RuntimeError("the scale scenario copies its database at every size: it needs a server role "
                               "that may CREATE DATABASE (the embedded server's does)")

    def describe(self, line: str, cell: Cell, result: dict[str, Any]) -> str:
        if "threads" in cell.params:
            return (f"{line} {cell.label}: {result['threads']:,} threads, {result['early_threads_per_s']:.0f}/s "
                    f"early, {result['late_threads_per_s']:.0f}/s late")
        return (f"{line} {cell.label}: top tools {result['top_tools_ms']:.0f} ms, claim p50 "
                f"{result['claim_p50_ms']:.2f} ms, append p99 with pollers {result['append_p99_polled_ms']:.1f} ms, "
                f"rebuild {result['rebuild_s']:.1f} s (longest append wait {result['rebuild_append_max_ms']:.0f} ms)")

    # -- one size ---------------------------------------------------------------------------------

    async def run_cell(self, h: Harness, cell: Cell) -> dict[str, Any]:
        if "threads" in cell.params:
            return await catch_up(h, cell.params["threads"], shipped=cell.params["shipped"],
                                  timeout=h.options.scale_discord_timeout)
        size = cell.params["size"]
        result: dict[str, Any] = {"size": size}
        await self._grow(h, size, result)
        await self._reads(h, size, result)
        # What appends (claims too) runs on a copy, so the next size grows from exactly this one.
        copy = await copy_database(h, self.dsn, f"{size}")
        try:
            await self._writes(h, copy, size, result)
        finally:
            await drop_database(h, copy, self.dsn)
        return result

    async def _grow(self, h: Harness, size: int, result: dict[str, Any]) -> None:
        """Load what is missing to reach ``size``, derive the documents, VACUUM ANALYZE."""
        conn = await asyncpg.connect(self.dsn)
        try:
            await migrate(conn)
            stored = int(await conn.fetchval("SELECT coalesce(max(seq_id), 0) FROM mt_events"))
            if size > stored:
                loaded = await load(self.dsn, self.workload, size - stored, h.options.scale_load)
                result.update(loaded_events=loaded.events, load_s=loaded.seconds, load_ev_per_s=loaded.rate)
                log.info("loaded %s events in %.1f s (%.0f ev/s)", f"{loaded.events:,}", loaded.seconds, loaded.rate)
            result["rebuild_idle_s"], result["rebuild_idle_output"] = await probes.rebuild(self.dsn)
            started = time.perf_counter()
            await conn.execute("VACUUM ANALYZE")
            result["vacuum_s"] = time.perf_counter() - started
        finally:
            await conn.close()
        result["issues"] = self.workload.issues

    async def _reads(self, h: Harness, size: int, result: dict[str, Any]) -> None:
        repeat = h.options.repeat
        # A connection of its own per size, so no statement keeps a plan made at a smaller one.
        conn = await asyncpg.connect(self.dsn)
        service = await h.start_service(self.dsn, extra_env=SERVICE_ENV, name=f"scale-{size}")
        probe = h.cpu_probe(service)
        before = probe.snapshot()
        try:
            result["rss_start_mb"] = probes.rss_mb(service.pid)
            url = service.base_url
            async with _client() as http:
                log.info("seed SQL, list pages, feed")
                result.update(await probes.seed_queries(conn, repeat))
                result.update(_medians([await probes.list_pages(http, url, conn) for _ in range(repeat)]))
                result.update(_medians([await probes.feed_catch_up(http, url, conn) for _ in range(repeat)]))
            result.update(await probes.disk_sizes(conn))
            result["rss_reads_mb"] = probes.rss_mb(service.pid)
            result["reads_other_cores"] = probe.usage(before, probe.snapshot(), 1)["cpu_other_cores"]
        finally:
            await service.stop()
            h.services.remove(service)
            await conn.close()

    async def _writes(self, h: Harness, dsn: str, size: int, result: dict[str, Any]) -> None:
        options, repeat = h.options, h.options.repeat
        # The appenders send the workload's next bodies from a copy of it: the log they extend is
        # thrown away, and the next size must go on from this one's.
        workload = copy.deepcopy(self.workload)

        def next_body() -> dict[str, Any]:
            body: dict[str, Any] = orjson.loads(workload.next_body())
            return body

        conn = await asyncpg.connect(dsn)
        service = await h.start_service(dsn, extra_env=SERVICE_ENV, name=f"scale-{size}-writes")
        probe = h.cpu_probe(service)
        before = probe.snapshot()
        try:
            result["rss_writes_start_mb"] = probes.rss_mb(service.pid)
            url = service.base_url
            async with _client() as http:
                depth = int(result.get("queue_total", 0))
                claims = max(1, min(MAX_CLAIMS, depth // (repeat + 1)))
                log.info("claims: %d x %d with %s queued", claims, repeat, f"{depth:,}")
                runs = [{**await claim_latencies(http, url, claims, agent_prefix=f"scale-{size}-{rep}"),
                         "queue_head_sql_ms": await probes.queue_head_sql(conn, claims)} for rep in range(repeat)]
                result.update(_medians(runs), queue_depth=depth)

                log.info("rebuild-projections beside appends")
                rebuilds = []
                for _ in range(repeat):
                    run = await probes.rebuild_beside_appends(http, url, dsn, next_body)
                    run["rebuild_read_s"], run["rebuild_read_rows"] = await probes.rebuild_read_s(conn)
                    rebuilds.append(run)
                result.update(_medians(rebuilds))

                log.info("appends beside %d pollers", POLLERS)
                result.update(_medians([await appends_beside_pollers(http, url, options.duration)
                                        for _ in range(repeat)]))
            result["rss_end_mb"] = probes.rss_mb(service.pid)
            result["writes_other_cores"] = probe.usage(before, probe.snapshot(), 1)["cpu_other_cores"]
        finally:
            await service.stop()
            h.services.remove(service)
            await conn.close()

    # -- report -----------------------------------------------------------------------------------

    def report(self, h: Harness, medians: dict[str, dict[str, Any]],
               runs: dict[str, list[dict[str, Any]]]) -> ScenarioReport:
        sizes = [m for k, m in medians.items() if k.startswith("size@")]
        headers = ["figure", "plain-PostgreSQL equivalent", *(f"{int(m['size']):,} events" for m in sizes)]
        rows = [[label, plain_label, *(_cell(m, key, plain, unit) for m in sizes)]
                for label, key, plain, unit, plain_label in FIGURES]
        rows.append(["queue depth / issues", "", *(f"{int(m.get('queue_depth', 0)):,} / {int(m['issues']):,}"
                                                   for m in sizes)])
        verdict = _verdict(sizes, [m for k, m in medians.items() if k.startswith("discord@")])
        extra = [_loading(sizes)]
        discord = [m for k, m in medians.items() if k.startswith(("discord@", "discord-py@"))]
        if discord:
            extra.append(_discord_table(discord))
        report = ScenarioReport(
            scenario=self.name, title=self.title, headers=headers, rows=rows, verdict=verdict,
            extra_tables=extra, uses_loadgen=False,
            method=(f"One database grown to each size in turn ({h.options.scale_load} load, then "
                    "`conductor-e rebuild-projections` and VACUUM ANALYZE), the service started afresh at "
                    f"each size; every measurement {h.options.repeat} times, medians. Cells read "
                    "\"service (plain, ratio)\": the ratio is how many times the plain query's cost the "
                    "service's figure is (for the feed, plain rate / service rate)."),
            notes=_notes(h.options),
            summary={"sizes": sizes, "discord": discord})
        if sizes:
            top = sizes[-1]
            report.appendix_markdown = "\n".join(
                [f"EXPLAIN (ANALYZE, BUFFERS) of the seed's queries at {int(top['size']):,} events:", ""]
                + [f"```\n-- {name}\n{top.get(f'{name}_plan', '')}\n```" for name in probes.SEED_QUERIES])
        return report


def _client() -> aiohttp.ClientSession:
    # Idle connections are dropped well before the service closes them (HTTP_TIMEOUT_SECONDS, 15 s,
    # aiohttp's own default too): otherwise a request can go out on one the service is closing.
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=5.0))


async def copy_database(h: Harness, dsn: str, suffix: str) -> str:
    """A copy of the database ``dsn`` names (nobody may be connected to it); its DSN."""
    source = urlsplit(dsn).path.lstrip("/")
    name = f"{source}_w{suffix}"
    admin = await asyncpg.connect(h.postgres.admin_dsn)
    try:
        started = time.perf_counter()
        # FILE_COPY: the files as they are, after a checkpoint, instead of WAL-logging every block.
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}" STRATEGY = FILE_COPY')
        log.info("copied the database for the measurements that append (%.1f s)", time.perf_counter() - started)
    finally:
        await admin.close()
    return with_database(h.postgres.admin_dsn, name)


async def drop_database(h: Harness, dsn: str, keep: str) -> None:
    name = urlsplit(dsn).path.lstrip("/")
    assert name != urlsplit(keep).path.lstrip("/")
    admin = await asyncpg.connect(h.postgres.admin_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def _medians(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in runs[0]:
        values = [r[key] for r in runs]
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        out[key] = statistics.median(values) if numeric else values[-1]
        if numeric and len(values) > 1:
            out[f"{key}_runs"] = values
    return out


def _fmt(value: float, unit: str) -> str:
    if unit == "ev/s":
        return f"{value:,.0f}/s"
    if unit == "s":
        return f"{value:,.1f} s" if value >= 1 else f"{value * 1e3:,.0f} ms"
    if unit in ("MB", "B"):
        return f"{value:,.0f} {unit}"
    return f"{value:,.1f} ms" if value >= 10 else f"{value:,.2f} ms"


def _cell(m: dict[str, Any], key: str, plain: str | None, unit: str) -> str:
    if key not in m:
        return "—"
    value = float(m[key])
    if plain is None or plain not in m:
        return _fmt(value, unit)
    base = float(m[plain])
    ratio = (base / value if key in RATES else value / base) if value and base else 0.0
    return f"{_fmt(value, unit)} ({_fmt(base, unit)}, {ratio:,.1f}×)"


def _verdict(sizes: list[dict[str, Any]], discord: list[dict[str, Any]]) -> dict[str, Any]:
    target = (f"at the largest size: seed queries < {TARGET_SEED_MS:g} ms, claim p50 < {TARGET_CLAIM_P50_MS:g} ms; "
              f"at every size: append p99 beside {POLLERS} pollers < {TARGET_APPEND_P99_MS:g} ms, appends wait "
              f"< {TARGET_REBUILD_WAIT_MS / 1e3:g} s during a rebuild; Discord catch-up flat (late >= "
              f"{FLAT:.0%} of early)")
    if not sizes:
        return {"target": target}
    top = sizes[-1]
    checks = [
        (f"top tools {top['top_tools_ms']:,.0f} ms", top["top_tools_ms"] < TARGET_SEED_MS),
        (f"memory quality {top['memory_quality_ms']:,.0f} ms", top["memory_quality_ms"] < TARGET_SEED_MS),
        (f"claim p50 {top['claim_p50_ms']:.2f} ms", top["claim_p50_ms"] < TARGET_CLAIM_P50_MS),
        ("append p99 with pollers " + ", ".join(f"{m['append_p99_polled_ms']:.1f}" for m in sizes) + " ms",
         all(m["append_p99_polled_ms"] < TARGET_APPEND_P99_MS for m in sizes)),
        ("longest append wait in a rebuild " + ", ".join(f"{m['rebuild_append_max_ms']:,.0f}" for m in sizes) + " ms",
         all(m["rebuild_append_max_ms"] < TARGET_REBUILD_WAIT_MS for m in sizes)),
    ]
    checks += [(f"Discord late/early {d['late_vs_early']:.2f}", d["late_vs_early"] >= FLAT) for d in discord]
    passed = all(ok for _, ok in checks)
    failed = [text for text, ok in checks if not ok]
    text = ("PASS" if passed else "FAIL") + ": " + "; ".join(text for text, _ in checks)
    return {"target": target, "passed": passed, "text": text, "failed": failed}


def _loading(sizes: list[dict[str, Any]]) -> tuple[str, list[str], list[list[str]]]:
    headers = ["size", "issues", "events loaded", "load s", "load ev/s", "rebuild (idle) s", "VACUUM ANALYZE s",
               "other processes' CPU, reads / writes (cores of 2)"]
    rows = [[f"{int(m['size']):,}", f"{int(m['issues']):,}", f"{int(m.get('loaded_events', 0)):,}",
             f"{m.get('load_s', 0):.1f}", f"{m.get('load_ev_per_s', 0):,.0f}", f"{m['rebuild_idle_s']:.1f}",
             f"{m['vacuum_s']:.1f}", f"{_fmt_cores(m.get('reads_other_cores'))} / {_fmt_cores(m.get('writes_other_cores'))}"]
            for m in sizes]
    return "Loading each size, and the machine's other load while measuring", headers, rows


def _fmt_cores(value: Any) -> str:
    return "—" if value is None else f"{value:.2f}"


def _discord_table(discord: list[dict[str, Any]]) -> tuple[str, list[str], list[list[str]]]:
    headers = ["service", "threads", "messages", "threads/s overall", "early /s (tenths 1-3)", "late /s (tenths 8-10)",
               "late ÷ early", "per tenth /s", "RSS MB"]
    rows = [[d["service"], f"{int(d['threads']):,}", f"{int(d['messages']):,}", f"{d['threads_per_s']:,.0f}",
             f"{d['early_threads_per_s']:,.0f}", f"{d['late_threads_per_s']:,.0f}", f"{d['late_vs_early']:.2f}",
             " ".join(f"{r:,.0f}" for r in d["slice_threads_per_s"]), f"{d['service_rss_mb']:,.0f}"]
            for d in discord]
    return "Discord catch-up: threads opened per second, in tenths of the threads", headers, rows


def _notes(options: Options) -> list[str]:
    return [
        "Mix (bench/scenarios/scale_workload.py): ~78 % TOOL_USED, ~7 % HEARTBEAT, ~10 % lifecycle (3 % "
        "ISSUE_APPROVED), ~3 % MEMORY_* (PascalCase), ~2 % TOKEN_USAGE; one issue per 33 events, two in five "
        "worked to done, the rest queued.",
        "Plain PostgreSQL: asyncpg on a connection of the benchmark's own, rows as text, the same machine and "
        "moment; pages and claims are p50 of 20 (claims: of each repetition's claims).",
        f"Claims: up to {MAX_CLAIMS} per repetition, each by a new agent, from the queue as deep as it is; "
        "appends beside pollers: the claims scenario's cell as it is (16 clients appending TOOL_USED, closed loop, "
        f"{options.duration:g} s alone then {options.duration:g} s beside {POLLERS} agents polling once a second).",
        "Rebuild: `conductor-e rebuild-projections` in its own process while this process appends the workload's "
        "bodies at 200/s over 8 connections; its time includes the process's start.",
        "Claims, rebuilds and pollers append: they run on a copy of the size's database (CREATE DATABASE … "
        "TEMPLATE) with a service of their own, so every size grows from exactly the one before.",
        "RSS: the service's resident set after its start and after the measurements (two processes: reads, then "
        "the copy's). Bytes per event: pg_total_relation_size('mt_events') / events.",
        "The service runs with HEARTBEAT_TIMEOUT_MINUTES=1440, so the benchmark's claimants, which never "
        "heartbeat, are not reported stuck in the middle of a later measurement.",
    ]
