"""Scenario "append": POST /api/events through the real service vs raw single-row INSERTs.

Cells: for every concurrency level c, ``http@c`` (the load generator against ``conductor-e serve``),
``raw@c`` (asyncpg single-row INSERTs from this process) and ``floor@c`` (the same load against
``harness/aiohttp_floor.py``: aiohttp answering without doing any work, the most any service on
this stack could reach here). Each repetition runs every level's three cells back to back, in an
order that rotates with the repetition, so drift on a shared machine does not favour one side.
The ratio HTTP/raw at each level is the figure to read; HTTP/floor and floor/raw say where the
gap lies.

Target (issue): at 16 clients, HTTP reaches at least 0.5x the raw rate with p99 under 50 ms.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path
from typing import Any

import asyncpg

from ..harness import profiling
from ..harness.report import ScenarioReport
from ..harness.runner import Cell, Harness, Options, Scenario
from ..harness.service import ServiceProcess
from .raw_insert import RawInsert, raw_events
from .workload import ISSUE_COUNT, seed_bodies, write_bodies, write_lines

log = logging.getLogger("bench")

TARGET_CLIENTS = 16
TARGET_RATIO = 0.5
TARGET_P99_MS = 50.0
BODY_LINES = 150_000
FLOOR_SCRIPT = Path(__file__).resolve().parents[1] / "harness" / "aiohttp_floor.py"


class AppendScenario(Scenario):
    name = "append"
    title = "HTTP append vs raw single-row INSERT"

    def __init__(self) -> None:
        self.service: ServiceProcess | None = None
        self.floor: ServiceProcess | None = None
        self.service_dsn = ""
        self.raw: RawInsert | None = None
        self.bodies = Path()
        self.offset = 0
        self.mix: dict[str, float] = {}
        self.seed: dict[str, Any] = {}

    # -- cells ------------------------------------------------------------------------------------

    def cells(self, options: Options) -> list[Cell]:
        cells = []
        for c in options.clients:
            cells.append(Cell(f"http@{c}", f"HTTP  c={c}", {"kind": "http", "clients": c}))
            cells.append(Cell(f"raw@{c}", f"raw   c={c}", {"kind": "raw", "clients": c}))
            cells.append(Cell(f"floor@{c}", f"floor c={c}", {"kind": "floor", "clients": c}))
        return cells

    def order(self, cells: list[Cell], repetition: int) -> list[Cell]:
        ordered = []
        for i in range(0, len(cells), 3):  # each level's three cells, rotated by one per repetition
            level = cells[i:i + 3]
            turn = repetition % len(level)
            ordered += level[turn:] + level[:turn]
        return ordered

    # -- setup ------------------------------------------------------------------------------------

    async def setup(self, h: Harness) -> None:
        self.bodies = h.tmp / "bodies.txt"
        self.mix = await asyncio.to_thread(write_bodies, self.bodies, BODY_LINES)
        seed_path = h.tmp / "seed.txt"
        write_lines(seed_path, seed_bodies())
        log.info("workload: %s", ", ".join(f"{k} {v:.1%}" if not k.startswith("_") else f"mean body {v:.0f} B"
                                           for k, v in self.mix.items()))

        raw_dsn = await h.postgres.create_database("ce_bench_raw")
        head = [line for _, line in zip(range(20_000), self.bodies.open(encoding="utf-8"), strict=False)]
        self.raw = RawInsert(raw_dsn, raw_events(head))
        await self.raw.create_table()

        self.service_dsn = await h.postgres.create_database("ce_bench_svc")
        self.service = await h.start_service(self.service_dsn, name="service")
        self.floor = await h.start_service("", name="floor", command=[sys.executable, str(FLOOR_SCRIPT)])
        self.seed = await h.loadgen.send_once(self.service.port, seed_path, clients=8)
        if self.seed["ok"] != ISSUE_COUNT:
            raise RuntimeError(f"seeding the {ISSUE_COUNT} ISSUE_APPROVED events failed: {self.seed}")
        log.info("seeded %d issues (ISSUE_APPROVED) in %.1f s", self.seed["ok"], self.seed["seconds"])
        if h.options.analyze_after_seed:
            conn = await asyncpg.connect(self.service_dsn)
            try:
                await conn.execute("ANALYZE")
            finally:
                await conn.close()
            log.info("ANALYZE run on the service database after seeding (--analyze-after-seed)")

    async def teardown(self, h: Harness) -> None:
        if self.floor is not None:
            await self.floor.stop()
        if self.service is not None:
            self.seed["stored_events_at_end"] = await self._stored_events()
            await self.service.stop()

    async def _db_marks(self) -> dict[str, Any] | None:
        """Where mt_events stands now: its last seq_id and its scan counters."""
        try:
            conn = await asyncpg.connect(self.service_dsn)
            try:
                row = await conn.fetchrow(
                    "SELECT (SELECT coalesce(max(seq_id), 0) FROM mt_events) AS seq, seq_scan, seq_tup_read, "
                    "coalesce(idx_scan, 0) AS idx_scan, autoanalyze_count + analyze_count AS analyzed, n_live_tup "
                    "FROM pg_stat_user_tables WHERE relname = 'mt_events'")
                return dict(row) if row else None
            finally:
                await conn.close()
        except (OSError, asyncpg.PostgresError) as exc:
            log.debug("no database diagnostics: %s", exc)
            return None

    async def _db_diagnostics(self, before: dict[str, Any] | None) -> dict[str, Any]:
        """What the database saw during the window (diagnostics, not part of the verdict).

        - events per transaction: the writer stamps every event of one transaction with one
          ``timestamp``, so distinct timestamps over the window's seq_ids count its transactions;
        - mt_events rows read by sequential scans per appended event (statistics are flushed about
          once a second, so this is approximate): anything above ~0 means some statement scans the
          whole table on every batch, and its cost grows with the table.
        """
        after = await self._db_marks()
        if not before or not after:
            return {}
        out: dict[str, Any] = {"mt_events_rows_at_end": after["n_live_tup"],
                               "mt_events_analyzed_during": after["analyzed"] - before["analyzed"]}
        try:
            conn = await asyncpg.connect(self.service_dsn)
            try:
                row = await conn.fetchrow(
                    'SELECT count(*) AS events, count(DISTINCT "timestamp") AS txns FROM mt_events '
                    "WHERE seq_id > $1 AND seq_id <= $2", before["seq"], after["seq"])
            finally:
                await conn.close()
        except (OSError, asyncpg.PostgresError):
            row = None
        if row and row["txns"]:
            out["events_per_txn"] = row["events"] / row["txns"]
            out["txns"] = row["txns"]
        appended = after["seq"] - before["seq"]
        if appended > 0:
            out["seq_rows_read_per_event"] = (after["seq_tup_read"] - before["seq_tup_read"]) / appended
            out["seq_scans_per_event"] = (after["seq_scan"] - before["seq_scan"]) / appended
        return out

    async def _stored_events(self) -> int | None:
        try:
            conn = await asyncpg.connect(self.service_dsn)
            try:
                return int(await conn.fetchval("SELECT count(*) FROM mt_events"))
            finally:
                await conn.close()
        except (OSError, asyncpg.PostgresError):
            return None

    # -- cells ------------------------------------------------------------------------------------

    async def run_cell(self, h: Harness, cell: Cell) -> dict[str, Any]:
        clients = cell.params["clients"]
        if cell.params["kind"] == "http":
            return await self._http(h, clients, h.options.warmup, h.options.duration)
        if cell.params["kind"] == "floor":
            return await self._floor(h, clients)
        return await self._raw(h, clients)

    async def _floor(self, h: Harness, clients: int) -> dict[str, Any]:
        assert self.floor is not None
        if not await self.floor.healthy():
            raise RuntimeError("the aiohttp floor server is not healthy:\n" + self.floor.log_tail())
        if h.options.warmup > 0:
            await h.loadgen.run(self.floor.port, clients, h.options.warmup, self.bodies)
        probe = h.cpu_probe(self.floor)
        before = probe.snapshot()
        result = await h.loadgen.run(self.floor.port, clients, h.options.duration, self.bodies)
        after = probe.snapshot()
        result.update(probe.usage(before, after, result["ok"]))
        return result

    async def _http(self, h: Harness, clients: int, warmup: float, duration: float) -> dict[str, Any]:
        assert self.service is not None
        if not await self.service.healthy():
            raise RuntimeError("the service is not healthy:\n" + self.service.log_tail())
        port = self.service.port
        if warmup > 0:
            warm = await h.loadgen.run(port, clients, warmup, self.bodies, self.offset)
            self.offset += warm["requests"]
        probe = h.cpu_probe(self.service)
        marks = await self._db_marks()
        before = probe.snapshot()
        result = await h.loadgen.run(port, clients, duration, self.bodies, self.offset)
        after = probe.snapshot()
        self.offset += result["requests"]
        result.update(probe.usage(before, after, result["ok"]))
        result.update(await self._db_diagnostics(marks))
        if result["non_2xx"] or result["socket_errors"]:
            log.warning("HTTP c=%d: %d non-2xx answers, %d socket errors", clients, result["non_2xx"],
                        result["socket_errors"])
        return result

    async def _raw(self, h: Harness, clients: int) -> dict[str, Any]:
        assert self.raw is not None
        probe = h.cpu_probe(None)
        marks: dict[str, Any] = {}

        def window(edge: str) -> None:
            marks[edge] = probe.snapshot()

        result = await self.raw.run(clients, h.options.warmup, h.options.duration, window)
        result.update(probe.usage(marks["start"], marks["end"], result["ok"]))
        result.pop("cpu_service_cores", None)
        result.pop("cpu_ms_per_1k_service", None)
        result.pop("cpu_loadgen_cores", None)
        return result

    # -- profile ----------------------------------------------------------------------------------

    async def profile(self, h: Harness, out_dir: Path, stamp: str) -> dict[str, Any] | None:
        assert self.service is not None
        spy = profiling.ensure_py_spy()
        if not spy:
            log.warning("py-spy unavailable: no profile")
            return None
        clients, duration = h.options.profile_clients, max(h.options.duration, 5.0)
        out_dir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - once, before the load starts
        collapsed = out_dir / f"{stamp}-{self.name}-profile-c{clients}.txt"
        log.info("profiling the service (pid %s) with py-spy during an HTTP run at c=%d for %.0f s",
                 self.service.pid, clients, duration)
        # warm up first, then record while the load runs a little longer than the recording
        warm = await h.loadgen.run(self.service.port, clients, h.options.warmup, self.bodies, self.offset)
        self.offset += warm["requests"]
        probe = h.cpu_probe(self.service)
        before = probe.snapshot()
        load = asyncio.create_task(h.loadgen.run(self.service.port, clients, duration + 1, self.bodies, self.offset))
        spy_proc = await profiling.record(spy, self.service.pid, duration, collapsed)
        spy_out, _ = await spy_proc.communicate()
        result = await load
        after = probe.snapshot()
        self.offset += result["requests"]
        usage = probe.usage(before, after, result["ok"])
        if spy_proc.returncode != 0 or not collapsed.exists():
            log.warning("py-spy failed (%s): %s", spy_proc.returncode, spy_out.decode(errors="replace")[-1500:])
            return {"error": spy_out.decode(errors="replace")[-1500:]}
        summary = profiling.summarize(collapsed)
        summary["collapsed_stacks"] = collapsed.name  # beside the report; no machine path
        summary["load_during_profile"] = {k: result[k] for k in ("events_per_s", "p50_ms", "p99_ms")}
        summary["service_cpu_cores"] = usage.get("cpu_service_cores")
        summary["service_cpu_us_per_event"] = (usage.get("cpu_ms_per_1k_service") or 0.0)
        self._profile_md = profiling.markdown(
            summary, f"### Profile: the service under HTTP load at c={clients} (py-spy, {duration:.0f} s)\n\n"
                     f"While sampled: {result['events_per_s']:,.0f} ev/s, p99 {result['p99_ms']:.1f} ms; the service "
                     f"used {usage.get('cpu_service_cores', 0):.2f} cores = "
                     f"{summary['service_cpu_us_per_event']:.0f} µs of CPU per event (so 10 % below ≈ "
                     f"{summary['service_cpu_us_per_event'] / 10:.0f} µs per event). Collapsed stacks: "
                     f"`{collapsed.name}` (open in speedscope.app or flamegraph.pl).")
        return summary

    # -- report -----------------------------------------------------------------------------------

    def report(self, h: Harness, medians: dict[str, dict[str, Any]],
               runs: dict[str, list[dict[str, Any]]]) -> ScenarioReport:
        headers = ["clients", "HTTP ev/s", "HTTP p50 ms", "HTTP p99 ms", "raw ev/s", "raw p50 ms", "raw p99 ms",
                   "HTTP/raw", "floor ev/s", "HTTP/floor", "floor/raw", "service CPU (cores)",
                   "PG CPU HTTP/raw (cores)"]
        rows, summary = [], {}
        for c in h.options.clients:
            hm, rm, fm = medians[f"http@{c}"], medians[f"raw@{c}"], medians.get(f"floor@{c}", {})
            ratio = hm["events_per_s"] / rm["events_per_s"] if rm["events_per_s"] else 0.0
            floor = fm.get("events_per_s") or 0.0
            of_floor = hm["events_per_s"] / floor if floor else None
            floor_raw = floor / rm["events_per_s"] if floor and rm["events_per_s"] else None
            pair_ratios = [a["events_per_s"] / b["events_per_s"]
                           for a, b in zip(runs[f"http@{c}"], runs[f"raw@{c}"], strict=False) if b["events_per_s"]]
            summary[str(c)] = {
                "http_events_per_s": hm["events_per_s"], "http_p50_ms": hm["p50_ms"], "http_p99_ms": hm["p99_ms"],
                "raw_events_per_s": rm["events_per_s"], "raw_p50_ms": rm["p50_ms"], "raw_p99_ms": rm["p99_ms"],
                "ratio": ratio, "ratio_per_repetition": pair_ratios,
                "floor_events_per_s": floor or None, "floor_p99_ms": fm.get("p99_ms"),
                "http_of_floor": of_floor, "floor_of_raw": floor_raw,
                "floor_cpu_cores": fm.get("cpu_service_cores"),
                "floor_cpu_ms_per_1k_events": fm.get("cpu_ms_per_1k_service"),
                "service_cpu_cores": hm.get("cpu_service_cores"),
                "service_cpu_ms_per_1k_events": hm.get("cpu_ms_per_1k_service"),
                "postgres_cpu_cores_http": hm.get("cpu_postgres_cores"),
                "postgres_cpu_cores_raw": rm.get("cpu_postgres_cores"),
            }
            rows.append([
                str(c), f"{hm['events_per_s']:,.0f}", f"{hm['p50_ms']:.2f}", f"{hm['p99_ms']:.2f}",
                f"{rm['events_per_s']:,.0f}", f"{rm['p50_ms']:.2f}", f"{rm['p99_ms']:.2f}", f"{ratio:.2f}x",
                f"{floor:,.0f}" if floor else "—", _ratio(of_floor), _ratio(floor_raw),
                _fmt(hm.get("cpu_service_cores")),
                f"{_fmt(hm.get('cpu_postgres_cores'))} / {_fmt(rm.get('cpu_postgres_cores'))}",
            ])
        detail_headers = ["cell", "rep", "ev/s", "p50 ms", "p99 ms", "max ms", "errors", "service CPU",
                          "PG CPU", "client CPU", "machine busy %", "other processes CPU", "events/txn",
                          "rows seq-scanned/ev"]
        detail_rows = []
        for key, values in runs.items():
            for r in values:
                client = r.get("cpu_bench_cores") if key.startswith("raw") else r.get("cpu_loadgen_cores")
                detail_rows.append([
                    key, str(r["repetition"]), f"{r['events_per_s']:,.0f}", f"{r['p50_ms']:.2f}",
                    f"{r['p99_ms']:.2f}", f"{r['max_ms']:.1f}", str(r.get("non_2xx", 0) + r.get("socket_errors", 0)),
                    _fmt(r.get("cpu_service_cores")), _fmt(r.get("cpu_postgres_cores")), _fmt(client),
                    f"{r.get('cpu_machine_busy_pct', 0):.0f}", _fmt(r.get("cpu_other_cores")),
                    _fmt(r.get("events_per_txn"), 1), _fmt(r.get("seq_rows_read_per_event"), 0),
                ])
        verdict: dict[str, Any] = {
            "target": f"at {TARGET_CLIENTS} clients, HTTP >= {TARGET_RATIO}x raw single-row INSERT rate "
                      f"and HTTP p99 < {TARGET_P99_MS:g} ms",
        }
        if str(TARGET_CLIENTS) in summary:
            s = summary[str(TARGET_CLIENTS)]
            ok_ratio, ok_p99 = s["ratio"] >= TARGET_RATIO, s["http_p99_ms"] < TARGET_P99_MS
            verdict.update(passed=ok_ratio and ok_p99, ratio=s["ratio"], http_p99_ms=s["http_p99_ms"])
            verdict["text"] = (
                f"{'PASS' if ok_ratio and ok_p99 else 'FAIL'}: {s['ratio']:.2f}x "
                f"({'>=' if ok_ratio else '<'} {TARGET_RATIO}x; {s['http_events_per_s']:,.0f} vs "
                f"{s['raw_events_per_s']:,.0f} ev/s), p99 {s['http_p99_ms']:.1f} ms "
                f"({'<' if ok_p99 else '>='} {TARGET_P99_MS:g} ms)")
        else:
            verdict["text"] = f"not measured (no {TARGET_CLIENTS}-client level in --clients)"
        notes = [
            "HTTP: closed loop, each client one keep-alive connection, next POST as soon as the 201 arrives; "
            f"mix {_mix_text(self.mix)}; {ISSUE_COUNT} issues approved before timing.",
            "raw: asyncpg, one held connection per client, autocommit single-row INSERT into a table shaped "
            "like mt_events (same indexes), ~300-byte JSON, 1,000 streams, separate database.",
            "floor: the same load and bodies against bench/harness/aiohttp_floor.py, aiohttp on uvloop that "
            "parses each body and answers a constant 201 (no validation, no store, no database): the most "
            "any service on this stack reaches here. Its CPU is in the detail rows' service CPU column.",
            "CPU columns: cores busy during the measured window (1.0 = one core); the machine has "
            f"{os.cpu_count()} CPUs shared by the client, the service and PostgreSQL.",
        ]
        stored = self.seed.get("stored_events_at_end")
        if stored is not None:
            notes.append(f"service database at the end: {stored:,} events in mt_events "
                         "(seed + warm-ups + measured + requests cut off when a timed run ended).")
        errors = sum(r.get("non_2xx", 0) + r.get("socket_errors", 0) for v in runs.values() for r in v)
        if errors:
            notes.append(f"{errors} failed requests over all cells (see the JSON)")
        report = ScenarioReport(self.name, self.title, headers, rows, notes=notes, verdict=verdict,
                                detail_headers=detail_headers, detail_rows=detail_rows,
                                summary={"levels": summary, "mix": self.mix, "seed": self.seed})
        report.profile_markdown = getattr(self, "_profile_md", "")
        report.extra_tables.append(self._diagnostics_table(h, medians))
        return report

    def _diagnostics_table(self, h: Harness, medians: dict[str, dict[str, Any]]
                           ) -> tuple[str, list[str], list[list[str]]]:
        headers = ["clients", "events/txn (HTTP)", "service CPU ms/1k ev", "PG CPU ms/1k ev HTTP / raw",
                   "client CPU (cores) HTTP / raw", "machine busy % HTTP / raw", "other processes (cores) HTTP / raw",
                   "mt_events rows seq-scanned/ev"]
        rows = []
        for c in h.options.clients:
            hm, rm = medians[f"http@{c}"], medians[f"raw@{c}"]
            rows.append([
                str(c), _fmt(hm.get("events_per_txn"), 1), _fmt(hm.get("cpu_ms_per_1k_service"), 0),
                f"{_fmt(hm.get('cpu_ms_per_1k_postgres'), 0)} / {_fmt(rm.get('cpu_ms_per_1k_postgres'), 0)}",
                f"{_fmt(hm.get('cpu_loadgen_cores'))} / {_fmt(rm.get('cpu_bench_cores'))}",
                f"{_fmt(hm.get('cpu_machine_busy_pct'), 0)} / {_fmt(rm.get('cpu_machine_busy_pct'), 0)}",
                f"{_fmt(hm.get('cpu_other_cores'))} / {_fmt(rm.get('cpu_other_cores'))}",
                _fmt(hm.get("seq_rows_read_per_event"), 0),
            ])
        return "Diagnostics (medians)", headers, rows


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}x"


def _fmt(value: Any, digits: int = 2) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def _mix_text(mix: dict[str, float]) -> str:
    tool = mix.get("TOOL_USED", 0)
    hb = mix.get("HEARTBEAT", 0)
    other = sum(v for k, v in mix.items() if not k.startswith("_")) - tool - hb
    return (f"{tool:.0%} TOOL_USED, {hb:.0%} HEARTBEAT (20 agents), {other:.0%} lifecycle, "
            f"mean body {mix.get('_mean_body_bytes', 0):.0f} B")
