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
_INDEXES = ("SELECT indexname AS name, indexdef AS def FROM pg_indexes "
            "WHERE schemaname = current_schema() AND tablename = $1")
_STATISTICS = ("SELECT stxname AS name, pg_get_statisticsobjdef(oid) AS def FROM pg_statistic_ext "
               "WHERE stxrelid = to_regclass($1)")


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
        # Planner statistics before the swap (they go with the table): a table swapped in without
        # them would be planned as if empty until autovacuum analysed it (the queue's head, say).
        await conn.execute(f"ANALYZE {table}{SHADOW}")
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
    """The shadow becomes ``table``; its indexes and extended statistics (copied by ``LIKE …
    INCLUDING ALL``) take the names the table's had (so the migration and operators find them as
    before)."""
    indexes = {_shape(r["def"]): r["name"] for r in await conn.fetch(_INDEXES, table)}
    shadow_indexes = {_shape(r["def"]): r["name"] for r in await conn.fetch(_INDEXES, table + SHADOW)}
    statistics = {_shape(r["def"]): r["name"] for r in await conn.fetch(_STATISTICS, table)}
    shadow_statistics = {_shape(r["def"]): r["name"] for r in await conn.fetch(_STATISTICS, table + SHADOW)}
    await conn.execute(f"DROP TABLE {table}")
    await conn.execute(f"ALTER TABLE {table}{SHADOW} RENAME TO {table}")
    for kind, names, shadow_names in (("INDEX", indexes, shadow_indexes),
                                      ("STATISTICS", statistics, shadow_statistics)):
        for shape, name in shadow_names.items():
            original = names.get(shape)
            if original is not None and original != name:
                await conn.execute(f'ALTER {kind} "{name}" RENAME TO "{original}"')


def _shape(definition: str) -> str:
    """An index's or a statistics object's definition without its name and its table's: what two
    like ones share."""
    without_names = re.sub(r"(INDEX|STATISTICS) \S+", r"\1", definition)
    return re.sub(r" (ON|FROM) [\w.\"]+( |$)", r" \1 \2", without_names)
