"""Diagnostic: how many CPU instructions the service spends per appended event, counted by callgrind.

    .venv/bin/python bench/tools/count_instructions.py                 # embedded PostgreSQL in a temp dir
    DATABASE_URL=postgresql://... .venv/bin/python bench/tools/count_instructions.py

Why: on these shared machines the service's CPU time per request varies by ±15 % between identical
runs, which hides any change worth a few percent. Instruction counts do not drift with the machine:
valgrind's callgrind counts them the same whatever else runs. So this compares variants of the code
where the benchmark cannot (run it on each; compare the per-event figures).

What it runs, in ONE process under ``valgrind --tool=callgrind`` (it re-executes itself there):
the service as ``conductor-e serve`` wires it (``bot.runtime.Service``, API-only) on uvloop, and a
small client of its own on the same loop: ``--clients`` keep-alive connections sending the
benchmark's workload in waves (one POST per connection, every answer read before the next wave).
The database runs outside valgrind. Counting is switched on (``callgrind_control``) only for the
measured waves, after the seed and warm-up waves, so start-up and imports are not counted.

The count includes the client's share (building and reading ~16 requests per wave), which is the
same for every variant: compare counts between variants, not with the benchmark's CPU seconds.
``--floor`` counts the same load against ``bench/harness/aiohttp_floor.py`` instead of the service
(aiohttp answering without doing any work, see bench/README.md): the difference between the two
is what the service's own work costs.
Batching depends on timing, which valgrind changes (the service is ~50x slower, the database is
not), so events per transaction are printed too: compare runs with similar batches.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from bench.harness.httpload import build_requests, exchange  # noqa: E402
from bench.scenarios.workload import seed_bodies, write_bodies  # noqa: E402


def _toggle(on: bool) -> None:
    subprocess.run(["callgrind_control", "-i", "on" if on else "off", str(os.getpid())],
                   check=True, capture_output=True)


class _Floor:
    """The aiohttp floor app, in this process, shaped like ``Service`` for ``_inner``."""

    port = 0

    async def start(self) -> None:
        from aiohttp import web

        from bench.harness import aiohttp_floor

        self._runner = web.AppRunner(aiohttp_floor.make_app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]  # noqa: SLF001

    async def stop(self) -> None:
        await self._runner.cleanup()


async def _inner(clients: int, waves: int, warmup: int, floor: bool, tmp: Path) -> None:
    import asyncpg

    from bench.harness.postgres import Postgres
    from bot.runtime import Service
    from bot.settings import Settings

    pg = await Postgres.start(tmp)
    try:
        dsn = await pg.create_database("ce_count")
        service: Service | _Floor = (
            _Floor() if floor else Service(Settings(host="127.0.0.1", port=0, database_url=dsn, data_dir=tmp / "data"))
        )
        await service.start()
        if floor:  # nothing is stored: the database figures below stay 0
            await migrate_only(dsn)
        try:
            bodies_path = tmp / "bodies.txt"
            write_bodies(bodies_path, clients * (waves + warmup))
            bodies = [line.encode() for line in bodies_path.read_text(encoding="utf-8").splitlines() if line]
            seed = build_requests("127.0.0.1", service.port, "/api/events", [b.encode() for b in seed_bodies()])
            requests = build_requests("127.0.0.1", service.port, "/api/events", bodies)
            conns = [await asyncio.open_connection("127.0.0.1", service.port) for _ in range(clients)]
            for at in range(0, len(seed), clients):  # uncounted, in waves too
                await asyncio.gather(*(exchange(r, w, req) for (r, w), req in zip(conns, seed[at:at + clients],
                                                                                   strict=False)))

            async def wave(n: int) -> list[int]:
                return await asyncio.gather(*(exchange(r, w, requests[n * clients + i])
                                              for i, (r, w) in enumerate(conns)))

            statuses: list[int] = []
            for n in range(warmup):
                await wave(n)
            first = await _max_seq(asyncpg, dsn)
            _toggle(True)
            for n in range(warmup, warmup + waves):
                statuses += await wave(n)
            _toggle(False)
            last = await _max_seq(asyncpg, dsn)
            conn = await asyncpg.connect(dsn)
            try:
                txns = await conn.fetchval('SELECT count(DISTINCT "timestamp") FROM mt_events '
                                           "WHERE seq_id > $1 AND seq_id <= $2", first, last)
            finally:
                await conn.close()
            for _, w in conns:
                w.close()
            bad = sum(1 for s in statuses if s != 201)
            print(f"RESULT events={len(statuses)} non_201={bad} stored={last - first} transactions={txns}",
                  flush=True)
        finally:
            await service.stop()
    finally:
        await pg.drop_created()


async def migrate_only(dsn: str) -> None:
    import asyncpg

    from eventstore.postgres.schema import migrate

    conn = await asyncpg.connect(dsn)
    try:
        await migrate(conn)
    finally:
        await conn.close()


async def _max_seq(asyncpg: object, dsn: str) -> int:
    conn = await asyncpg.connect(dsn)  # type: ignore[attr-defined]
    try:
        return int(await conn.fetchval("SELECT coalesce(max(seq_id), 0) FROM mt_events"))
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=16, help="connections, one POST each per wave (16)")
    parser.add_argument("--waves", type=int, default=60, help="measured waves (60)")
    parser.add_argument("--warmup", type=int, default=20, help="uncounted waves first (20)")
    parser.add_argument("--floor", action="store_true", help="count the aiohttp floor app instead of the service")
    parser.add_argument("--keep", metavar="FILE", type=Path,
                        help="also write callgrind's output there (for callgrind_annotate --inclusive=yes)")
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inner:
        import uvloop

        # Removed at exit, after the embedded server's own exit handler (registered later, run
        # earlier) has stopped it: removing its data directory first would leave it running.
        tmp = tempfile.mkdtemp(prefix="ce-count-")
        atexit.register(shutil.rmtree, tmp, ignore_errors=True)
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(_inner(args.clients, args.waves, args.warmup, args.floor, Path(tmp)))
        return
    if not shutil.which("valgrind") or not shutil.which("callgrind_control"):
        sys.exit("valgrind (with callgrind_control) is required: apt-get install valgrind")
    with tempfile.TemporaryDirectory(prefix="ce-count-out-") as out:
        cmd = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}/callgrind.out",
               sys.executable, __file__, "--inner", "--clients", str(args.clients), "--waves", str(args.waves),
               "--warmup", str(args.warmup), *(["--floor"] if args.floor else [])]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if args.keep and proc.returncode == 0:
            shutil.copyfile(f"{out}/callgrind.out", args.keep)
    result = re.search(r"RESULT events=(\d+) non_201=(\d+) stored=(\d+) transactions=(\d+)", proc.stdout)
    collected = re.search(r"Collected : ([\d,]+)", proc.stderr)
    if proc.returncode != 0 or not result or not collected:
        sys.exit(f"the run failed (exit {proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    events, bad, stored, txns = (int(g) for g in result.groups())
    instructions = int(collected.group(1).replace(",", ""))
    what = "the aiohttp floor" if args.floor else "the service"
    print(f"{events} requests in {args.waves} waves of {args.clients} ({bad} not 201, {stored} stored, "
          f"{stored / max(txns, 1):.1f} events per transaction)")
    print(f"instructions per request: {instructions / max(events, 1):,.0f} ({what} and its client, counted by callgrind)")


if __name__ == "__main__":
    main()
