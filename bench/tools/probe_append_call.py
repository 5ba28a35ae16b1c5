"""Diagnostic: what one ``ce_append_batch`` call costs on a quiet machine, without HTTP or load.

    .venv/bin/python bench/tools/probe_append_call.py            # embedded server in a temp dir
    DATABASE_URL=postgresql://... .venv/bin/python bench/tools/probe_append_call.py  # a fresh database there

One connection calls the writer's function with batches of analytics events (TOOL_USED bodies over
300 issue streams), one call after another, with the commit flushed (``synchronous_commit=on``,
what the service runs) and not (``off``, which shows what the WAL flush costs). It prints the
median wall time per call by batch size, interleaving every variant so that machine noise hits all
alike. Set against the append benchmark's round trip per batch, the difference is what the load
(the service and the load generator sharing the cores) adds. Figures: BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from bench.harness.postgres import Postgres  # noqa: E402
from eventstore.postgres.schema import APPEND_LOCK, migrate  # noqa: E402
from eventstore.postgres.store import init_connection  # noqa: E402

BODY = {"AgentId": "dev-e-3", "Repo": "acme/app", "IssueNumber": 417, "ToolName": "Bash", "IsMcp": False,
        "TargetPreview": "pytest -q tests/unit", "DurationMs": 1234, "Success": True}
CALL = "SELECT * FROM ce_append_batch($1, $2, $3, $4, $5, $6)"


def _batch(size: int) -> list[tuple[object, ...]]:
    return [(f"acme/app#{random.randint(1, 300)}", "issue", uuid.uuid4(), BODY, "tool_used",
             "ConductorE.Core.Domain.ToolUsed, ConductorE.Core") for _ in range(size)]


async def probe(calls: int, sizes: list[int]) -> None:
    import asyncpg

    # Removed at exit, after the embedded server's own exit handler has stopped it (see
    # count_instructions.py): removing its data directory first would leave it running.
    tmp = tempfile.mkdtemp(prefix="ce-probe-")
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    pg = await Postgres.start(Path(tmp))
    try:
        conn = await asyncpg.connect(await pg.create_database("ce_probe"))
        try:
            await migrate(conn)
            await init_connection(conn)
            await conn.execute("SET plan_cache_mode = force_custom_plan")  # as the service's writer
            variants = [(size, flush) for size in sizes for flush in ("on", "off")]
            times: dict[tuple[int, str], list[float]] = {v: [] for v in variants}
            for _ in range(calls):
                for size, flush in variants:
                    await conn.execute(f"SET synchronous_commit = {flush}")
                    batch = _batch(size)
                    t0 = time.perf_counter()
                    await conn.fetch(CALL, None, None, APPEND_LOCK, datetime.now(timezone.utc), batch, [])
                    times[(size, flush)].append(time.perf_counter() - t0)
        finally:
            await conn.close()
        print(f"PostgreSQL {pg.settings.get('server_version')} ({'embedded' if pg.embedded else 'DATABASE_URL'}), "
              f"{calls} calls per cell, first 10 % dropped as warm-up; median ms per call")
        print("events per call  flushed (synchronous_commit=on)  not flushed (off)  flush")
        warm = calls // 10
        for size in sizes:
            on = statistics.median(times[(size, "on")][warm:]) * 1000
            off = statistics.median(times[(size, "off")][warm:]) * 1000
            print(f"{size:>15}  {on:>30.3f}  {off:>17.3f}  {on - off:>5.3f}")
    finally:
        await pg.drop_created()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=1500, help="calls per cell (default 1500)")
    parser.add_argument("--sizes", default="1,8,16", help="events per call (default 1,8,16)")
    args = parser.parse_args()
    asyncio.run(probe(args.calls, [int(s) for s in args.sizes.split(",")]))


if __name__ == "__main__":
    main()
