"""Diagnostic: ``conductor-e serve`` with the event-store writer's transactions timed.

Not part of a normal run. Use it as the service command of a benchmark run:

    CE_BENCH_SERVICE_CMD=".venv/bin/python bench/tools/serve_with_writer_timing.py" \\
    CE_BENCH_WRITER_TIMING=/tmp/writer-timing.json \\
        .venv/bin/python bench/run.py --clients 16 --repeat 1 --analyze-after-seed

It wraps, in this process only, ``PostgresEventStore._append_batch`` and asyncpg's
``execute``/``fetch``/``fetchval``/``fetchrow`` so that every batch of more than one event (the
concurrent traffic, not the seed or single-client cells) records its wall time and the wall time of
each statement it awaited. At exit it writes the totals as JSON and prints a summary to stderr (the
service's log): events per transaction, time per transaction, how busy the writer was, and per
statement the time per transaction. "Waiting on a statement" includes the time the writer's
coroutine waited in the event loop behind other work (HTTP requests) after the answer arrived; the
rest of a transaction's time is Python in the writer.
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import time
from collections import defaultdict
from typing import Any

import asyncpg.connection

_totals: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
_state: dict[str, Any] = {"in_batch": False, "batches": 0, "events": 0, "wall": 0.0, "first": None, "last": None,
                          "current": {}}


def _wrap(cls: type, name: str) -> None:
    original = getattr(cls, name)

    async def timed(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not _state["in_batch"]:
            return await original(self, *args, **kwargs)
        t0 = time.perf_counter()
        try:
            return await original(self, *args, **kwargs)
        finally:
            key = " ".join(args[0].split())[:80] if args and isinstance(args[0], str) else name
            entry = _state["current"].setdefault(key, [0, 0.0])
            entry[0] += 1
            entry[1] += time.perf_counter() - t0

    setattr(cls, name, timed)


for _name in ("execute", "fetch", "fetchval", "fetchrow"):
    _wrap(asyncpg.connection.Connection, _name)

from eventstore.postgres import store as _store  # noqa: E402  (after the wrapping, on purpose)

_original_batch = _store.PostgresEventStore._append_batch


async def _timed_batch(self: Any, jobs: list[Any]) -> None:
    _state["in_batch"], _state["current"] = True, {}
    t0 = time.perf_counter()
    try:
        await _original_batch(self, jobs)
    finally:
        _state["in_batch"] = False
        t1 = time.perf_counter()
        if len(jobs) > 1:
            _state["batches"] += 1
            _state["events"] += len(jobs)
            _state["wall"] += t1 - t0
            _state["first"] = _state["first"] or t0
            _state["last"] = t1
            for key, (n, t) in _state["current"].items():
                _totals[key][0] += n
                _totals[key][1] += t


_store.PostgresEventStore._append_batch = _timed_batch  # type: ignore[method-assign]


def _report() -> None:
    batches = _state["batches"]
    out = {k: v for k, v in _state.items() if k not in ("current", "in_batch")}
    out["statements"] = {k: {"count": n, "seconds": t} for k, (n, t) in _totals.items()}
    path = os.environ.get("CE_BENCH_WRITER_TIMING")
    if path:
        with open(path, "w", encoding="utf-8") as f:
            json.dump(out, f, indent=1)
    if not batches:
        return
    span = (_state["last"] or 0) - (_state["first"] or 0)
    lines = [f"writer timing: {batches} transactions, {_state['events'] / batches:.1f} events each, "
             f"{_state['wall'] / batches * 1e3:.2f} ms each; writer in a transaction "
             f"{_state['wall']:.1f} s of {span:.1f} s"]
    waited = 0.0
    for key, (n, t) in sorted(_totals.items(), key=lambda kv: -kv[1][1]):
        waited += t
        lines.append(f"  {n / batches:4.2f}/txn  {t / n * 1e3:6.3f} ms each  {t / batches * 1e3:6.3f} ms/txn  {key}")
    lines.append(f"  waiting on statements {waited / batches * 1e3:.2f} ms/txn; "
                 f"Python in the writer {(_state['wall'] - waited) / batches * 1e3:.2f} ms/txn")
    print("\n".join(lines), file=sys.stderr)


atexit.register(_report)

if __name__ == "__main__":
    from bot.cli import main

    sys.exit(main())
