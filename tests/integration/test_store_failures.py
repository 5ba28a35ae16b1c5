"""A failure while writing one event never sinks the others in its batch, nor leaves a caller waiting."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from eventstore.events import parse_event
from eventstore.postgres.store import PostgresEventStore
from eventstore.projections.projector import RigProjector
from eventstore.store import PendingEvent, StoreUnavailable

from ..conftest import FakeClock


class ExplodingProjector(RigProjector):
    """The rig's projector with a bug: it raises on one particular title."""

    async def apply(self, rec, stream, docs):  # type: ignore[no-untyped-def]
        if getattr(rec.event, "title", "") == "boom":
            raise RuntimeError("a bug in a projection")
        return await super().apply(rec, stream, docs)


async def test_a_failing_event_is_refused_alone(db: asyncpg.Pool, clock: FakeClock) -> None:
    store = PostgresEventStore(db, clock=clock, projector=ExplodingProjector())
    await store.start()
    try:
        titles = ["a", "b", "boom", "c", "d"]
        results = await asyncio.gather(*(
            store.append(PendingEvent.of(parse_event("ISSUE_APPROVED", {"repo": "o/r", "issueNumber": n, "title": t})))
            for n, t in enumerate(titles, start=1)), return_exceptions=True)
        assert [isinstance(r, StoreUnavailable) for r in results] == [False, False, True, False, False]
        stored = await db.fetch("SELECT data->>'Title' AS t FROM mt_events ORDER BY seq_id")
        assert sorted(r["t"] for r in stored) == ["a", "b", "c", "d"]
        docs = await db.fetchval("SELECT count(*) FROM mt_doc_issuestatus")
        assert docs == 4
        with pytest.raises(StoreUnavailable):
            await store.append(PendingEvent.of(parse_event("ISSUE_APPROVED", {"repo": "o/r", "issueNumber": 9,
                                                                             "title": "boom"})))
    finally:
        await store.close()


def _heartbeat(n: int) -> PendingEvent:
    return PendingEvent.of(parse_event("HEARTBEAT", {"agentId": f"dev-e-{n}"}))


async def test_a_full_write_queue_refuses_at_once_and_a_late_commit_is_refused(
        db: asyncpg.Pool, pg_server_dsn: str, clock: FakeClock) -> None:
    from eventstore.postgres.schema import APPEND_LOCK

    store = PostgresEventStore(db, clock=clock, projector=RigProjector(), max_queued=5, append_wait=0.5)
    await store.start()
    blocker = await asyncpg.connect(pg_server_dsn)
    try:
        await blocker.execute(f"BEGIN; SELECT pg_advisory_xact_lock({APPEND_LOCK})")  # the writer now waits
        first = store.append(_heartbeat(0))
        await asyncio.sleep(0.1)  # the writer takes it and blocks on the lock
        queued = [store.append(_heartbeat(n)) for n in range(1, 6)]
        refused = [store.append(_heartbeat(n)) for n in range(6, 9)]
        for future in refused:  # over the bound: refused without waiting
            assert future.done() and isinstance(future.exception(), StoreUnavailable)
            assert "queue is full" in str(future.exception())
        # Nothing commits within append_wait: every caller is answered "unavailable".
        outcomes = await asyncio.gather(first, *queued, return_exceptions=True)
        assert all(isinstance(o, StoreUnavailable) and "did not commit" in str(o) for o in outcomes)
        await blocker.execute("ROLLBACK")
        await asyncio.sleep(0.2)  # the writer passes the expired jobs
        # The queued ones expired before the writer reached them: they were never written.
        ok = await store.append(_heartbeat(99))
        assert not ok.duplicate
        stored = {r["a"] for r in await db.fetch("SELECT data->>'AgentId' AS a FROM mt_events")}
        assert stored <= {"dev-e-0", "dev-e-99"} and "dev-e-99" in stored
    finally:
        await blocker.close()
        await store.close()


async def test_data_the_database_refuses_is_unstorable_not_unavailable(db: asyncpg.Pool, clock: FakeClock) -> None:
    from eventstore.store import Unstorable

    store = PostgresEventStore(db, clock=clock, projector=RigProjector())
    await store.start()
    try:
        good = _heartbeat(1)
        # What submission refuses (a NUL, which jsonb cannot hold), handed to the store directly.
        bad = PendingEvent(good.event, good.stream, data_json=b'{"AgentId": "dev-e-1", "Status": "\\u0000"}')
        outcomes = await asyncio.gather(store.append(bad), store.append(_heartbeat(2)), return_exceptions=True)
        assert isinstance(outcomes[0], Unstorable) and not isinstance(outcomes[1], BaseException)
        assert await db.fetchval("SELECT count(*) FROM mt_events") == 1
    finally:
        await store.close()
