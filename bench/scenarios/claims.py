"""Scenario "claims": claim latency against the depth of the queue, and beside an append load.

Cells, each against a fresh database and service: ``depth@N`` seeds N queued issues (ISSUE_APPROVED
over HTTP; every seventh depends on the one before it, priorities mixed) and then times claims,
one at a time, each by another agent (``POST /api/assignments/next``). ``pollers@N`` does the same
seeding, then runs 50 agents polling for work once a second beside 16 clients appending TOOL_USED,
and reports the appends' latency with and without the pollers.

Target (issue 16): claim p50 under 10 ms with 10,000 queued issues; appends' p99 unchanged (and
under 50 ms) while 50 agents poll.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import aiohttp

from ..harness.report import ScenarioReport
from ..harness.runner import Cell, Harness, Options, Scenario
from ..harness.stats import percentile

log = logging.getLogger("bench")

TARGET_DEPTH = 10_000
TARGET_CLAIM_P50_MS = 10.0
TARGET_APPEND_P99_MS = 50.0
CLAIMS = 200
POLLERS = 50
APPENDERS = 16


class ClaimsScenario(Scenario):
    name = "claims"
    title = "Claim latency with a deep queue, and appends beside 50 polling agents"

    def cells(self, options: Options) -> list[Cell]:
        depths = (1_000, 10_000) if not options.quick else (1_000,)
        return [*(Cell(f"depth@{d}", f"{d:,} queued", {"depth": d, "pollers": False}) for d in depths),
                Cell(f"pollers@{depths[-1]}", f"{POLLERS} pollers", {"depth": depths[-1], "pollers": True})]

    def plan(self, options: Options, cells: list[Cell]) -> str:
        return f"{len(cells)} cells x {options.repeat} repetitions, {CLAIMS} claims per depth cell"

    async def run_cell(self, h: Harness, cell: Cell) -> dict[str, Any]:
        dsn = await h.postgres.create_database("ce_bench_claims")
        service = await h.start_service(dsn, name=f"claims-{cell.key}-{time.monotonic_ns()}")
        url = service.base_url
        try:
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
                await _seed(http, url, cell.params["depth"])
                if cell.params["pollers"]:
                    return await appends_beside_pollers(http, url, h.options.duration)
                return await claim_latencies(http, url)
        finally:
            await service.stop()
            h.services.remove(service)

    def describe(self, line: str, cell: Cell, result: dict[str, Any]) -> str:
        if "claim_p50_ms" in result:
            return (f"{line} {cell.label:<16} claims p50 {result['claim_p50_ms']:.2f} ms, "
                    f"p99 {result['claim_p99_ms']:.2f} ms")
        return (f"{line} {cell.label:<16} appends p99 {result['append_p99_ms']:.2f} ms alone, "
                f"{result['append_p99_polled_ms']:.2f} ms with {POLLERS} pollers ({result['polls']:,} polls)")

    def report(self, h: Harness, medians: dict[str, dict[str, Any]],
               runs: dict[str, list[dict[str, Any]]]) -> ScenarioReport:
        rows = []
        for key, m in medians.items():
            if key.startswith("depth@"):
                rows.append([key.split("@")[1] + " queued", f"{m['claim_p50_ms']:.2f}", f"{m['claim_p99_ms']:.2f}",
                             "", ""])
            else:
                rows.append([f"{POLLERS} pollers beside {APPENDERS} appenders", "", "",
                             f"{m['append_p99_ms']:.2f}", f"{m['append_p99_polled_ms']:.2f}"])
        depth = medians.get(f"depth@{TARGET_DEPTH}")
        polled = next((m for k, m in medians.items() if k.startswith("pollers@")), None)
        verdict: dict[str, Any] = {"target": f"claim p50 < {TARGET_CLAIM_P50_MS:g} ms at {TARGET_DEPTH:,} queued; "
                                             f"append p99 < {TARGET_APPEND_P99_MS:g} ms while {POLLERS} agents poll"}
        if depth and polled:
            ok = depth["claim_p50_ms"] < TARGET_CLAIM_P50_MS and polled["append_p99_polled_ms"] < TARGET_APPEND_P99_MS
            verdict.update(passed=ok, text=(f"{'PASS' if ok else 'FAIL'}: claim p50 {depth['claim_p50_ms']:.2f} ms; "
                                            f"append p99 {polled['append_p99_ms']:.2f} ms alone, "
                                            f"{polled['append_p99_polled_ms']:.2f} ms with pollers"))
        return ScenarioReport(
            scenario=self.name, title=self.title,
            headers=["cell", "claim p50 ms", "claim p99 ms", "append p99 ms alone", "append p99 ms polled"],
            rows=rows, verdict=verdict, uses_loadgen=False,
            method=(f"Each cell against a fresh database and service: the queue seeded over HTTP, then {CLAIMS} "
                    f"claims one after another by distinct agents, or {h.options.duration:g} s of {APPENDERS} "
                    f"clients appending TOOL_USED, first alone, then beside {POLLERS} agents polling "
                    f"/api/assignments/next once a second; {h.options.repeat} repetitions, medians."))


async def _seed(http: aiohttp.ClientSession, url: str, depth: int) -> None:
    started = time.monotonic()
    bodies = [{"type": "ISSUE_APPROVED", "repo": f"acme/repo{n % 20}", "issueNumber": n,
               "priority": ("low", "normal", "high", "critical")[n % 4],
               "dependsOn": [n - 20] if n % 7 == 0 and n > 20 else []} for n in range(1, depth + 1)]
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)

    async def worker() -> None:
        while not queue.empty():
            body = queue.get_nowait()
            async with http.post(f"{url}/api/events", json=body) as resp:
                if resp.status != 201:
                    raise RuntimeError(f"seeding failed: {resp.status} {await resp.text()}")

    await asyncio.gather(*(worker() for _ in range(16)))
    log.info("seeded %d queued issues in %.1f s", depth, time.monotonic() - started)


def tool_used(n: int) -> dict[str, Any]:
    """What appender ``n`` sends by default: one TOOL_USED, the same each time."""
    return {"type": "TOOL_USED", "agentId": f"appender-{n}", "toolName": "Bash", "repo": "acme/repo1",
            "issueNumber": 1}


async def claim_latencies(http: aiohttp.ClientSession, url: str, count: int = CLAIMS,
                          agent_prefix: str = "bench-agent") -> dict[str, Any]:
    """``count`` claims one after another, each by an agent of its own (``<agent_prefix>-<n>``)."""
    times = []
    for n in range(count):
        started = time.perf_counter()
        async with http.post(f"{url}/api/assignments/next", json={"agentId": f"{agent_prefix}-{n}"}) as resp:
            await resp.read()
            assert resp.status == 200, resp.status
        times.append((time.perf_counter() - started) * 1000)
    return {"claim_p50_ms": percentile(sorted(times), 50), "claim_p99_ms": percentile(sorted(times), 99),
            "claims": count}


async def appends_beside_pollers(http: aiohttp.ClientSession, url: str, duration: float,
                                 next_body: Callable[[int], dict[str, Any]] = tool_used) -> dict[str, Any]:
    """Appends' latency for ``duration`` s alone, then as long again beside 50 agents polling once a
    second; appender ``n`` sends ``next_body(n)`` each time."""
    alone = await append_latencies(http, url, duration, next_body)
    stop = asyncio.Event()
    polls = [0]

    async def poller(n: int) -> None:
        while not stop.is_set():
            async with http.get(f"{url}/api/assignments/next", params={"agentId": f"poller-{n}"}) as resp:
                await resp.read()
            polls[0] += 1
            await asyncio.sleep(1.0)

    tasks = [asyncio.create_task(poller(n)) for n in range(POLLERS)]
    try:
        polled = await append_latencies(http, url, duration, next_body)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    return {"append_p99_ms": percentile(sorted(alone), 99), "append_p99_polled_ms": percentile(sorted(polled), 99),
            "polls": polls[0]}


async def append_latencies(http: aiohttp.ClientSession, url: str, duration: float,
                           next_body: Callable[[int], dict[str, Any]] = tool_used) -> list[float]:
    """``APPENDERS`` clients appending as fast as answers come for ``duration`` s: each answer's ms."""
    deadline = time.monotonic() + duration
    times: list[float] = []

    async def client(n: int) -> None:
        while time.monotonic() < deadline:
            body = next_body(n)
            started = time.perf_counter()
            async with http.post(f"{url}/api/events", json=body) as resp:
                await resp.read()
            times.append((time.perf_counter() - started) * 1000)

    await asyncio.gather(*(client(n) for n in range(APPENDERS)))
    return times
