"""Scenario "faults": nothing acknowledged is lost across kill -9 of the service and of PostgreSQL,
and how long each takes to recover.

A PostgreSQL of the scenario's own (``harness/pg_cluster.py``, fsync on) and the service as it ships.
Client loops (16, or the first of ``--clients`` when given) post HEARTBEAT and TOOL_USED events, each with an ``eventId`` of
its own and an agent's 2 s timeout, and remember which ids were acknowledged (200/201). Each cell
runs ``--duration`` seconds of load around one fault, a third of the way in:

- ``kill9-service``: SIGKILL to the service, then the same command is started again (on a new
  port, which the clients follow); recovery = from the moment it is dead to the first acknowledged
  append sent after that.
- ``kill9-postgres``: SIGKILL to the postmaster (and its children), then it is started again; the
  service is left alone to find the database again; recovery as above.

At the end of a cell every acknowledged id is looked up in ``mt_events``: ``lost`` counts those
missing and must be 0. ``stored unacknowledged`` are events committed while their client had
already given up (in flight at the kill): stored, never lost, and a retry with the same id is a
duplicate. Versions of each stream are checked for gaps too.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

import aiohttp
import asyncpg

from ..harness.pg_cluster import Cluster
from ..harness.report import ScenarioReport
from ..harness.runner import Cell, Harness, Options, Scenario
from ..harness.service import ServiceProcess

log = logging.getLogger("bench")

AGENT_TIMEOUT = 2.0


class FaultsScenario(Scenario):
    name = "faults"
    title = "Nothing acknowledged lost across kill -9 of the service and of PostgreSQL"

    def __init__(self) -> None:
        self.cluster: Cluster | None = None
        self.service: ServiceProcess | None = None
        self.clients = 16

    def cells(self, options: Options) -> list[Cell]:
        clients = self.clients = 16 if options.clients == (1, 16, 64) else options.clients[0]
        return [Cell("kill9-service", "kill -9 service", {"fault": "service", "clients": clients}),
                Cell("kill9-postgres", "kill -9 PostgreSQL", {"fault": "postgres", "clients": clients})]

    def plan(self, options: Options, cells: list[Cell]) -> str:
        return (f"{len(cells)} cells x {options.repeat} repetitions, {max(options.duration, 9):.0f} s of load "
                f"around each fault, {cells[0].params['clients']} clients")

    async def setup(self, h: Harness) -> None:
        self.cluster = Cluster(fsync=True)
        await asyncio.to_thread(self.cluster.init)
        await asyncio.to_thread(self.cluster.start)

    async def teardown(self, h: Harness) -> None:
        if self.service is not None:
            await self.service.stop()
        if self.cluster is not None:
            await asyncio.to_thread(self.cluster.destroy)

    async def run_cell(self, h: Harness, cell: Cell) -> dict[str, Any]:
        assert self.cluster is not None
        database = f"faults_{uuid.uuid4().hex[:8]}"
        admin = await asyncpg.connect(self.cluster.dsn)
        await admin.execute(f'CREATE DATABASE "{database}"')
        await admin.close()
        dsn = self.cluster.dsn.replace("/postgres?", f"/{database}?")
        self.service = ServiceProcess(dsn=dsn, workdir=h.tmp / f"faults-{cell.key}")
        await self.service.start()
        load = _Load(self.service, cell.params["clients"])
        duration = max(h.options.duration, 9.0)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
            runner = asyncio.create_task(load.run(http))
            await asyncio.sleep(duration / 3)
            # Timed from the moment the process is dead (its children too, for PostgreSQL).
            if cell.params["fault"] == "service":
                killed_at = await self._kill_service()
                load.mark_fault(killed_at)
                await self.service.start()
            else:
                await asyncio.to_thread(self.cluster.kill)
                killed_at = time.monotonic()
                load.mark_fault(killed_at)
                await asyncio.to_thread(self.cluster.start)
            restarted_s = time.monotonic() - killed_at
            await asyncio.sleep(duration * 2 / 3)
            load.stop()
            await runner
        result = await self._check(dsn, load)
        result.update(restart_s=restarted_s, recover_s=load.recovered_after())
        await self.service.stop()
        self.service = None
        return result

    async def _kill_service(self) -> float:
        assert self.service is not None and self.service.proc is not None
        self.service.proc.kill()
        await asyncio.to_thread(self.service.proc.wait)
        self.service.proc = None
        return time.monotonic()

    async def _check(self, dsn: str, load: _Load) -> dict[str, Any]:
        conn = await asyncpg.connect(dsn)
        try:
            stored = {r["id"] for r in await conn.fetch("SELECT id FROM mt_events")}
            gaps = await conn.fetchval("""
                SELECT count(*) FROM (SELECT stream_id, count(*) AS n, max(version) AS top
                                      FROM mt_events GROUP BY stream_id) s WHERE n <> top""")
        finally:
            await conn.close()
        acked = load.acked
        return {
            "acknowledged": len(acked), "lost": len(acked - stored), "stored_unacknowledged": len(stored - acked),
            "refused": load.refused, "timed_out": load.timed_out, "streams_with_gaps": int(gaps),
            "events_per_s": len(acked) / max(load.elapsed, 1e-9), "p50_ms": 0.0, "p99_ms": 0.0,
        }

    def describe(self, line: str, cell: Cell, result: dict[str, Any]) -> str:
        return (f"{line} {cell.label:<20} {result['acknowledged']:>7,} acknowledged, {result['lost']} lost, "
                f"{result['stored_unacknowledged']} stored unacknowledged, recovered in "
                f"{result['recover_s']:.2f} s (restart {result['restart_s']:.2f} s)")

    def report(self, h: Harness, medians: dict[str, dict[str, Any]],
               runs: dict[str, list[dict[str, Any]]]) -> ScenarioReport:
        headers = ["fault", "acknowledged (sum)", "lost (sum)", "stored unacknowledged (sum)", "gapped streams",
                   "restart s (median)", "recovered s (median)", "503 or refused (sum)", "timed out (sum)"]
        labels = {"kill9-service": "kill -9 of the service, restarted", "kill9-postgres": "kill -9 of PostgreSQL, restarted"}
        rows = []
        total_lost = 0
        for key, values in runs.items():
            m = medians[key]
            lost = sum(r["lost"] for r in values)
            total_lost += lost + sum(r["streams_with_gaps"] for r in values)
            rows.append([labels.get(key, key), f"{sum(r['acknowledged'] for r in values):,}", str(lost),
                         str(sum(r["stored_unacknowledged"] for r in values)),
                         str(sum(r["streams_with_gaps"] for r in values)), f"{m['restart_s']:.2f}",
                         f"{m['recover_s']:.2f}", f"{sum(r['refused'] for r in values):,}",
                         f"{sum(r['timed_out'] for r in values):,}"])
        detail = [[key, str(r["repetition"]), f"{r['acknowledged']:,}", str(r["lost"]), str(r["stored_unacknowledged"]),
                   f"{r['restart_s']:.2f}", f"{r['recover_s']:.2f}"] for key, values in runs.items() for r in values]
        ok = total_lost == 0
        return ScenarioReport(
            scenario=self.name, title=self.title, headers=headers, rows=rows,
            verdict={"target": "0 acknowledged events lost, no gaps in any stream's versions", "passed": ok,
                     "text": f"{'PASS' if ok else 'FAIL'}: {total_lost} lost or gapped"},
            detail_headers=["cell", "repetition", "acknowledged", "lost", "stored unacknowledged", "restart s",
                            "recovered s"],
            detail_rows=detail, uses_loadgen=False,
            method=(f"Each cell: {max(h.options.duration, 9):g} s of load from {self.clients} client loops "
                    "(HEARTBEAT and TOOL_USED, each with its own eventId, 2 s timeout), the fault a third "
                    f"of the way in; {h.options.repeat} repetitions. PostgreSQL: a cluster of the scenario's own "
                    "(fsync on, synchronous_commit on). 'recovered' is from the kill to the next acknowledged append."),
            notes=["'stored unacknowledged': committed after the client had given up (in flight at the kill); a retry "
                   "with the same eventId is answered as a duplicate."],
        )


class _Load:
    """Client loops posting events with ids of their own, remembering which were acknowledged."""

    def __init__(self, service: ServiceProcess, clients: int) -> None:
        self._service = service
        self._clients = clients
        self._stopping = False
        self.acked: set[uuid.UUID] = set()
        self.refused = 0
        self.timed_out = 0
        self._started = 0.0
        self.elapsed = 0.0
        self._fault_at: float | None = None
        self._first_ack_after_fault: float | None = None

    def mark_fault(self, at: float) -> None:
        self._fault_at = at

    def recovered_after(self) -> float:
        if self._fault_at is None or self._first_ack_after_fault is None:
            return float("inf")
        return self._first_ack_after_fault - self._fault_at

    def stop(self) -> None:
        self._stopping = True

    async def run(self, http: aiohttp.ClientSession) -> None:
        self._started = time.monotonic()
        await asyncio.gather(*(self._client(http, n) for n in range(self._clients)))
        self.elapsed = time.monotonic() - self._started

    async def _client(self, http: aiohttp.ClientSession, n: int) -> None:
        timeout = aiohttp.ClientTimeout(total=AGENT_TIMEOUT)
        sent = 0
        while not self._stopping:
            event_id = uuid.uuid4()
            sent += 1
            body: dict[str, Any] = ({"type": "HEARTBEAT", "agentId": f"agent-{n}"} if sent % 10 == 0 else
                                    {"type": "TOOL_USED", "agentId": f"agent-{n}", "toolName": "Bash",
                                     "repo": "acme/app", "issueNumber": 1 + n % 8})
            body["eventId"] = str(event_id)
            sent_at = time.monotonic()
            try:
                async with http.post(f"{self._service.base_url}/api/events", json=body, timeout=timeout) as resp:
                    await resp.read()
                    if resp.status in (200, 201):
                        self._ack(event_id, sent_at)
                    else:
                        self.refused += 1
                        await asyncio.sleep(0.05)
            except TimeoutError:
                self.timed_out += 1
            except (aiohttp.ClientError, OSError):
                self.refused += 1  # the service is down: as an agent, try again shortly
                await asyncio.sleep(0.05)

    def _ack(self, event_id: uuid.UUID, sent_at: float) -> None:
        self.acked.add(event_id)
        # Recovered: the first append sent after the fault that is acknowledged (one in flight at
        # the kill may still be answered and says nothing about recovery).
        if self._fault_at is not None and self._first_ack_after_fault is None and sent_at > self._fault_at:
            self._first_ack_after_fault = time.monotonic()
