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
