"""One writing transaction: stream versions, documents, staged events and their flush.

Created by the writer (``writer.py``) after it has taken the append advisory lock, so nothing it
reads can change under it. Events are staged with ``append``; ``flush`` gives them versions and
sequence numbers, runs the inline projections (which may stage follow-up events), and writes
events, streams and documents in a handful of set-based statements.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any, TypeVar

import asyncpg
from pydantic import BaseModel

from ..projections import Projector
from ..store import PendingEvent, RecordedEvent
from .documents import DOTNET_NAMESPACE, doc_table, dotnet_type, dump_doc, load_doc
from .schema import NOTIFY_CHANNEL

D = TypeVar("D", bound=BaseModel)

_INSERT_EVENTS = """
INSERT INTO mt_events (seq_id, id, stream_id, version, data, type, "timestamp",
                       tenant_id, mt_dotnet_type, is_archived)
SELECT s, i, st, v, d::jsonb, t, $7, '*DEFAULT*', dt, FALSE
FROM unnest($1::bigint[], $2::uuid[], $3::varchar[], $4::bigint[], $5::text[], $6::varchar[],
            $8::varchar[]) AS u(s, i, st, v, d, t, dt)
"""
_UPSERT_STREAMS = """
INSERT INTO mt_streams (id, type, version, "timestamp", created, tenant_id, is_archived)
SELECT i, t, v, $4, $4, '*DEFAULT*', FALSE
FROM unnest($1::varchar[], $2::varchar[], $3::bigint[]) AS u(i, t, v)
ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version, "timestamp" = EXCLUDED."timestamp"
"""
_UPSERT_DOCS = """
INSERT INTO {table} (id, data, mt_last_modified, mt_dotnet_type)
SELECT i, d::jsonb, COALESCE($3, transaction_timestamp()), $4 FROM unnest($1::varchar[], $2::text[]) AS u(i, d)
ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data, mt_last_modified = EXCLUDED.mt_last_modified
"""


class UnitOfWork:
    def __init__(self, conn: asyncpg.Connection, now: datetime, projector: Projector | None) -> None:
        self._conn = conn
        self.now = now
        self._projector = projector
        self._versions: dict[str, int] = {}
        self._stream_types: dict[str, str] = {}
        self._docs: dict[tuple[type[BaseModel], str], BaseModel | None] = {}
        self._dirty: dict[tuple[type[BaseModel], str], BaseModel] = {}
        self._staged: list[RecordedEvent] = []
        self._staged_ids: set[uuid.UUID] = set()

    # -- reads ---------------------------------------------------------------------------------

    async def load_versions(self, stream_ids: Iterable[str]) -> None:
        missing = [s for s in set(stream_ids) if s not in self._versions]
        if not missing:
            return
        rows = await self._conn.fetch(
            "SELECT id, version FROM mt_streams WHERE id = ANY($1::varchar[])", missing
        )
        found = {r["id"]: r["version"] or 0 for r in rows}
        for s in missing:
            self._versions[s] = found.get(s, 0)

    async def stream_version(self, stream_id: str) -> int:
        await self.load_versions([stream_id])
        return self._versions[stream_id]

    async def existing_events(self, ids: list[uuid.UUID]) -> dict[uuid.UUID, RecordedEvent]:
        if not ids:
            return {}
        rows = await self._conn.fetch(
            'SELECT seq_id, id, stream_id, version, type, "timestamp", data FROM mt_events '
            "WHERE id = ANY($1::uuid[])",
            ids,
        )
        return {r["id"]: record_from_row(r) for r in rows}

    async def event_exists(self, event_id: uuid.UUID) -> bool:
        if event_id in self._staged_ids:
            return True
        return bool(await self._conn.fetchval("SELECT 1 FROM mt_events WHERE id = $1", event_id))

    async def get(self, model: type[D], doc_id: str) -> D | None:
        key = (model, doc_id)
        if key not in self._docs:
            raw = await self._conn.fetchval(f"SELECT data::text FROM {doc_table(model)} WHERE id = $1", doc_id)
            self._docs[key] = None if raw is None else load_doc(model, raw)
        return self._docs[key]  # type: ignore[return-value]

    async def prefetch(self, model: type[BaseModel], doc_ids: Iterable[str]) -> None:
        missing = [d for d in set(doc_ids) if (model, d) not in self._docs]
        if not missing:
            return
        rows = await self._conn.fetch(
            f"SELECT id, data::text AS data FROM {doc_table(model)} WHERE id = ANY($1::varchar[])", missing
        )
        found = {r["id"]: r["data"] for r in rows}
        for d in missing:
            raw = found.get(d)
            self._docs[(model, d)] = None if raw is None else load_doc(model, raw)

    async def query(self, model: type[D], where: str = "TRUE", *args: Any) -> list[D]:
        """Documents matching a SQL condition on ``data``; documents changed in this unit win."""
        rows = await self._conn.fetch(
            f"SELECT id, data::text AS data FROM {doc_table(model)} WHERE {where}", *args
        )
        result: list[D] = []
        for r in rows:
            key = (model, r["id"])
            if key not in self._docs:
                self._docs[key] = load_doc(model, r["data"])
            doc = self._docs[key]
            if doc is not None:
                result.append(doc)  # type: ignore[arg-type]
        return result

    # -- writes --------------------------------------------------------------------------------

    def put(self, doc_id: str, doc: BaseModel) -> None:
        key = (type(doc), doc_id)
        self._docs[key] = doc
        self._dirty[key] = doc

    async def append(self, pending: PendingEvent) -> RecordedEvent:
        """Stage ``pending`` at the stream's next version and project it (and its follow-ups).

        Sequence numbers are given at ``flush``, in staging order; projections never need them.
        """
        version = await self.stream_version(pending.stream.id) + 1
        self._versions[pending.stream.id] = version
        self._stream_types[pending.stream.id] = pending.stream.kind.value
        self._staged_ids.add(pending.event_id)
        event = pending.event
        rec = RecordedEvent(0, pending.event_id, pending.stream.id, version, event.alias,
                            self.now, event.stored_data(), event)
        self._staged.append(rec)
        if self._projector is not None:
            for follow_up in await self._projector.apply(rec, pending.stream, self):
                if not await self.event_exists(follow_up.event_id):
                    await self.append(follow_up)
        return rec

    async def flush(self) -> list[RecordedEvent]:
        """Write everything staged; returns the recorded events with their sequence numbers."""
        if not self._staged:
            return []
        seqs = await self._conn.fetchval(
            "SELECT array_agg(nextval('mt_events_sequence')) FROM generate_series(1, $1)", len(self._staged)
        )
        recorded = [replace(rec, seq=seq) for rec, seq in zip(self._staged, seqs, strict=True)]
        self._staged.clear()
        await self._write(recorded)
        return recorded

    async def _write(self, recorded: list[RecordedEvent]) -> None:
        conn = self._conn
        streams = {r.stream_id: r.version for r in recorded}
        await conn.execute(
            _UPSERT_STREAMS, list(streams), [self._stream_types[s] for s in streams],
            list(streams.values()), self.now,
        )
        await conn.execute(
            _INSERT_EVENTS,
            [r.seq for r in recorded], [r.id for r in recorded], [r.stream_id for r in recorded],
            [r.version for r in recorded],
            [json.dumps(r.data, separators=(",", ":"), ensure_ascii=False) for r in recorded],
            [r.alias for r in recorded], self.now,
            [f"{DOTNET_NAMESPACE}.{type(r.event).__name__}, ConductorE.Core" for r in recorded],
        )
        by_model: dict[type[BaseModel], list[tuple[str, BaseModel]]] = {}
        for (model, doc_id), doc in self._dirty.items():
            by_model.setdefault(model, []).append((doc_id, doc))
        for model, docs in by_model.items():
            await upsert_documents(conn, model, docs, self.now)
        self._dirty.clear()
        await conn.execute("SELECT pg_notify($1, $2)", NOTIFY_CHANNEL, str(recorded[-1].seq))


async def upsert_documents(conn: asyncpg.Connection, model: type[BaseModel],
                           docs: list[tuple[str, BaseModel]], now: datetime | None = None) -> None:
    """Insert or replace documents of one type in one statement."""
    await conn.execute(
        _UPSERT_DOCS.format(table=doc_table(model)),
        [d for d, _ in docs], [dump_doc(doc) for _, doc in docs], now, dotnet_type(model),
    )


def record_from_row(row: asyncpg.Record) -> RecordedEvent:
    data = row["data"]
    if isinstance(data, str):
        data = json.loads(data)
    return RecordedEvent.from_row(row["seq_id"], row["id"], row["stream_id"], row["version"],
                                  row["type"], row["timestamp"], data)
