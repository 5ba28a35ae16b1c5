"""One batch of the writer holding every kind of append at once: each caller gets its own answer.

The writer answers callers by the position of their event in the batch's result, and looks up
only client-chosen ids (see ``PostgresEventStore._stage``). Concurrent callers rarely line up
like this, so the batch is handed to the writer's batch step directly.
"""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from eventstore.events import parse_event
from eventstore.postgres.store import PostgresEventStore, _AppendJob
from eventstore.projections.projector import RigProjector
from eventstore.store import AppendResult, ConcurrencyError, IdempotencyConflict, PendingEvent

from ..conftest import FakeClock


def _tool(issue: int, tool: str) -> PendingEvent:
    return PendingEvent.of(parse_event("TOOL_USED", {"agentId": "dev-e-1", "repo": "o/r", "issueNumber": issue,
                                                     "toolName": tool}))


def _chosen(pending: PendingEvent, event_id: uuid.UUID, expected: int | None = None) -> PendingEvent:
    return PendingEvent(pending.event, pending.stream, event_id, expected, may_exist=True)


async def _one_batch(store: PostgresEventStore, pendings: list[PendingEvent]) -> list[object]:
    loop = asyncio.get_running_loop()
    jobs = [_AppendJob(p, loop.create_future(), loop.time() + 60) for p in pendings]
    await store._append_batch(jobs)  # noqa: SLF001 - the batch step itself is what is tested
    results: list[object] = []
    for job in jobs:
        exc = job.future.exception()
        results.append(exc if exc is not None else job.future.result())
    return results


async def test_every_kind_of_append_in_one_batch(store: PostgresEventStore, db: asyncpg.Pool) -> None:
    stored_before = uuid.uuid4()
    first = await store.append(_chosen(_tool(1, "Read"), stored_before))
    assert first.recorded.version == 1

    x, y = uuid.uuid4(), uuid.uuid4()
    results = await _one_batch(store, [
        _tool(1, "Bash"),                                  # 0: fresh id, stream o/r#1
        _chosen(_tool(1, "Edit"), x),                      # 1: client id x
        _chosen(_tool(1, "Edit"), x),                      # 2: x again in the same batch: a retry
        _chosen(_tool(1, "Read"), stored_before),          # 3: a retry of what was stored before
        _chosen(_tool(2, "Edit"), x),                      # 4: x for another stream: a clash
        _chosen(_tool(3, "Grep"), y, expected=5),          # 5: stream o/r#3 is not at 5
        _chosen(_tool(4, "Glob"), uuid.uuid4(), expected=0),  # 6: a new stream, as expected
        _tool(1, "Grep"),                                  # 7: fresh again
    ])

    new = [r for r in results if isinstance(r, AppendResult) and not r.duplicate]
    assert [results.index(r) for r in new] == [0, 1, 6, 7]
    assert [(r.recorded.stream_id, r.recorded.version) for r in new] == [
        ("o/r#1", 2), ("o/r#1", 3), ("o/r#4", 1), ("o/r#1", 4)]
    seqs = [r.recorded.seq for r in new]
    assert seqs == sorted(seqs) and len(set(seqs)) == 4

    retry = results[2]
    assert isinstance(retry, AppendResult) and retry.duplicate
    assert retry.recorded.seq == new[1].recorded.seq and retry.recorded.id == x
    earlier = results[3]
    assert isinstance(earlier, AppendResult) and earlier.duplicate and earlier.recorded.seq == first.recorded.seq
    assert isinstance(results[4], IdempotencyConflict)
    assert isinstance(results[5], ConcurrencyError) and results[5].actual == 0

    rows = await db.fetch("SELECT id, stream_id, version FROM mt_events ORDER BY seq_id")
    assert len(rows) == 5  # the one before and the four new ones; nothing for the others
    assert [r["id"] for r in rows][1:] == [r.recorded.id for r in new]
    # each answer's stored body is the body as stored, read only when asked for
    assert new[0].recorded.data == await db.fetchval("SELECT data FROM mt_events WHERE id = $1",
                                                      new[0].recorded.id)


async def test_a_batch_of_fresh_analytics_events_is_numbered_by_the_database(
        store: PostgresEventStore, db: asyncpg.Pool) -> None:
    results = await _one_batch(store, [_tool(9, f"T{i}") for i in range(6)] + [_tool(8, "Bash")])
    assert all(isinstance(r, AppendResult) and not r.duplicate for r in results)
    assert [r.recorded.version for r in results] == [1, 2, 3, 4, 5, 6, 1]  # type: ignore[union-attr]
    assert [r.recorded.stream_id for r in results][-1] == "o/r#8"  # type: ignore[union-attr]
    assert await db.fetchval("SELECT count(*) FROM mt_events") == 7


async def test_the_document_cache_stays_within_its_bound(db: asyncpg.Pool, clock: FakeClock,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import eventstore.postgres.store as module

    monkeypatch.setattr(module, "CACHE_LIMIT", 5)
    store = PostgresEventStore(db, clock=clock, projector=RigProjector())
    await store.start()
    try:
        for wave in range(3):  # batches that each touch more documents than the bound
            await asyncio.gather(*(store.append(PendingEvent.of(parse_event(
                "ISSUE_APPROVED", {"repo": "o/r", "issueNumber": 100 * wave + n}))) for n in range(1, 9)))
            assert len(store._cache) <= 5  # noqa: SLF001
    finally:
        await store.close()
