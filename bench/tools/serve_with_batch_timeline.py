"""Diagnostic: ``conductor-e serve`` with a timeline of the event-store writer's batches.

Not part of a normal run. Use it as the service command of a benchmark run:

    CE_BENCH_SERVICE_CMD=".venv/bin/python bench/tools/serve_with_batch_timeline.py" \\
        .venv/bin/python bench/run.py --scenario append --clients 16 --repeat 1

It wraps, in this process only, ``PostgresEventStore._append_batch`` and the connection's
``fetchrow`` (which sends ``ce_append_batch``), and records for every batch when the writer took it,
when it was sent, when the answer was back and when the callers were answered. At exit it prints to
stderr (the service's log, kept with ``--keep-tmp``) how many events the batches held and the
median time of each phase over the batches of more than one event (the concurrent traffic):

- ``stage``: Python from taking the batch to sending it (projections, encoding);
- ``database``: from sending to the writer having the answer in hand (PostgreSQL, plus any wait
  for the event loop to get back to the writer);
- ``answer``: settling the callers' futures;
- ``idle``: from answering one batch to taking the next (no appends queued).

This is how BENCHMARKS.md's "writer busy all the time, ~2.9 ms per batch in the database" and the
3-and-13 split of 16 clients (before the half-of-outstanding rule) were seen.
"""

from __future__ import annotations

import atexit
import statistics
import sys
import time
from collections import Counter
from typing import Any

import asyncpg.connection

from eventstore.postgres import store as _store

_batches: list[dict[str, float]] = []
_current: dict[str, float] = {}

_original_fetchrow = asyncpg.connection.Connection.fetchrow


async def _fetchrow(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
    if "ce_append_batch" not in query or not _current:
        return await _original_fetchrow(self, query, *args, **kwargs)
    _current["sent"] = time.perf_counter()
    try:
        return await _original_fetchrow(self, query, *args, **kwargs)
    finally:
        _current["back"] = time.perf_counter()


asyncpg.connection.Connection.fetchrow = _fetchrow  # type: ignore[method-assign]

_original_batch = _store.PostgresEventStore._append_batch


async def _timed_batch(self: Any, jobs: list[Any]) -> None:
    _current.clear()
    _current.update(taken=time.perf_counter(), events=float(len(jobs)))
    try:
        await _original_batch(self, jobs)
    finally:
        _current["answered"] = time.perf_counter()
        _batches.append(dict(_current))
        _current.clear()


_store.PostgresEventStore._append_batch = _timed_batch  # type: ignore[method-assign]


def _summary() -> None:
    sizes = Counter(int(b["events"]) for b in _batches if b["events"] > 1)
    if not sizes:
        return
    print(f"batch timeline: {sum(sizes.values())} batches of more than one event; events per batch "
          f"(count): {', '.join(f'{k} ({v})' for k, v in sorted(sizes.items()))}", file=sys.stderr)
    phases: dict[str, list[float]] = {"stage": [], "database": [], "answer": [], "idle": []}
    for prev, b in zip(_batches, _batches[1:], strict=False):
        if b["events"] <= 1 or "sent" not in b or "back" not in b:
            continue
        phases["stage"].append(b["sent"] - b["taken"])
        phases["database"].append(b["back"] - b["sent"])
        phases["answer"].append(b["answered"] - b["back"])
        phases["idle"].append(b["taken"] - prev["answered"])
    print("batch timeline: median ms per batch: "
          + ", ".join(f"{k} {statistics.median(v) * 1000:.3f}" for k, v in phases.items() if v), file=sys.stderr)


atexit.register(_summary)

if __name__ == "__main__":
    from bot.cli import main

    sys.exit(main())
