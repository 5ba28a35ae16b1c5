"""Recompute every read-model document from ``mt_events``, beside a running service.

1. Without any lock: fold every event up to the log's end as it is then into documents in memory
   (only the events that change documents are read: analytics, most of the log, are skipped), and
   write them into shadow tables (``<table>__rebuild``, made like the real ones, indexes included).
2. Under the append lock, so appends wait only for this part: fold the events appended meanwhile,
   write the documents they changed into the shadows, swap each shadow in for its table (its
   indexes take the original names), and bump the document version so every writer drops the
   documents it cached.
Follow-ups the rules would emit are ignored: they are in the log as events of their own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TypeVar

import asyncpg
from pydantic import BaseModel

from ..projections import Projector
from ..streams import StreamKind, StreamRef
from .documents import doc_table
from .schema import APPEND_LOCK
from .unit_of_work import record_from_row, upsert_documents

D = TypeVar("D", bound=BaseModel)
_KINDS = {k.value: k for k in StreamKind}
SHADOW = "__rebuild"
_EVENTS = """
SELECT e.seq_id, e.id, e.stream_id, e.version, e.type, e."timestamp", e.data, s.type AS kind
FROM mt_events e JOIN mt_streams s ON s.id = e.stream_id
WHERE e.seq_id > $1 AND ($2::bigint IS NULL OR e.seq_id <= $2) AND e.type <> ALL($3::text[])
ORDER BY e.seq_id LIMIT $4
"""
_INDEXES = "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = $1"


class InMemoryDocuments:
    """A ``DocumentSet`` that starts empty and keeps everything in memory; ``changed`` collects the
    keys put since it was last cleared."""

    def __init__(self) -> None:
        self.docs: dict[tuple[type[BaseModel], str], BaseModel] = {}
        self.changed: set[tuple[type[BaseModel], str]] = set()

    async def get(self, model: type[D], doc_id: str) -> D | None:
        return self.docs.get((model, doc_id))  # type: ignore[return-value]

    def put(self, doc_id: str, doc: BaseModel) -> None:
        self.docs[(type(doc), doc_id)] = doc
        self.changed.add((type(doc), doc_id))

    def of(self, model: type[BaseModel], keys: Iterable[tuple[type[BaseModel], str]]) -> list[tuple[str, BaseModel]]:
        return [(doc_id, self.docs[(m, doc_id)]) for m, doc_id in keys if m is model]


async def rebuild_documents(conn: asyncpg.Connection, projector: Projector,
                            models: Iterable[type[BaseModel]], batch: int = 5000) -> int:
    """Replace the documents of ``models`` with a fold over the log; returns how many events changed
    documents (the ones read)."""
    models = list(models)
    inert = sorted(projector.inert_aliases())
    docs = InMemoryDocuments()
    upto = int(await conn.fetchval("SELECT coalesce(max(seq_id), 0) FROM mt_events"))
    count = await _fold(conn, projector, docs, inert, 0, upto, batch)
    for model in models:
        table = doc_table(model)
        await conn.execute(f"DROP TABLE IF EXISTS {table}{SHADOW}")
        await conn.execute(f"CREATE TABLE {table}{SHADOW} (LIKE {table} INCLUDING ALL)")
        await upsert_documents(conn, model, docs.of(model, docs.docs), table=table + SHADOW)
    docs.changed.clear()
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", APPEND_LOCK)
        count += await _fold(conn, projector, docs, inert, upto, None, batch)
        for model in models:
            table = doc_table(model)
            await upsert_documents(conn, model, docs.of(model, docs.changed), table=table + SHADOW)
            await _swap(conn, table)
        # Writers that cached documents must not keep using them: a new document version.
        await conn.execute("UPDATE ce_state SET doc_version = doc_version + 1 WHERE id = 1")
    return count


async def _fold(conn: asyncpg.Connection, projector: Projector, docs: InMemoryDocuments, inert: list[str],
                after: int, upto: int | None, batch: int) -> int:
    count = 0
    while True:
        rows = await conn.fetch(_EVENTS, after, upto, inert, batch)
        if not rows:
            return count
        for row in rows:
            kind = _KINDS.get(row["kind"])
            if kind is not None:
                await projector.apply(record_from_row(row), StreamRef(row["stream_id"], kind), docs)
        count += len(rows)
        after = rows[-1]["seq_id"]


async def _swap(conn: asyncpg.Connection, table: str) -> None:
    """The shadow becomes ``table``; its indexes take the names the table's had (so the migration
    and operators find them as before)."""
    names = {_shape(r["indexdef"]): r["indexname"] for r in await conn.fetch(_INDEXES, table)}
    shadow_names = {_shape(r["indexdef"]): r["indexname"] for r in await conn.fetch(_INDEXES, table + SHADOW)}
    await conn.execute(f"DROP TABLE {table}")
    await conn.execute(f"ALTER TABLE {table}{SHADOW} RENAME TO {table}")
    for shape, name in shadow_names.items():
        original = names.get(shape)
        if original is not None and original != name:
            await conn.execute(f'ALTER INDEX "{name}" RENAME TO "{original}"')


def _shape(indexdef: str) -> str:
    """An index definition without its name and its table's: what two like indexes share."""
    return re.sub(r"INDEX \S+ ON \S+", "INDEX ON", indexdef)
