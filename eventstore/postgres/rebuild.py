"""Recompute every read-model document from ``mt_events``.

Runs under the append lock, so no event commits while the documents are replaced; follow-ups the
rules would emit are ignored (they are already in the log as events of their own).
"""

from __future__ import annotations

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


class InMemoryDocuments:
    """A ``DocumentSet`` that starts empty and keeps everything in memory."""

    def __init__(self) -> None:
        self.docs: dict[tuple[type[BaseModel], str], BaseModel] = {}

    async def get(self, model: type[D], doc_id: str) -> D | None:
        return self.docs.get((model, doc_id))  # type: ignore[return-value]

    def put(self, doc_id: str, doc: BaseModel) -> None:
        self.docs[(type(doc), doc_id)] = doc


async def rebuild_documents(conn: asyncpg.Connection, projector: Projector,
                            models: Iterable[type[BaseModel]], batch: int = 5000) -> int:
    """Replace the documents of ``models`` with a fold over every event; returns the event count."""
    docs = InMemoryDocuments()
    count = 0
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", APPEND_LOCK)
        after = 0
        while True:
            rows = await conn.fetch(
                'SELECT e.seq_id, e.id, e.stream_id, e.version, e.type, e."timestamp", e.data, s.type AS kind '
                "FROM mt_events e JOIN mt_streams s ON s.id = e.stream_id "
                "WHERE e.seq_id > $1 ORDER BY e.seq_id LIMIT $2", after, batch,
            )
            if not rows:
                break
            for row in rows:
                kind = _KINDS.get(row["kind"])
                if kind is not None:
                    await projector.apply(record_from_row(row), StreamRef(row["stream_id"], kind), docs)
            count += len(rows)
            after = rows[-1]["seq_id"]
        # Writers that cached documents must not keep using them: a new document version.
        await conn.execute("UPDATE ce_state SET doc_version = doc_version + 1 WHERE id = 1")
        for model in models:
            table = doc_table(model)
            await conn.execute(f"TRUNCATE {table}")
            mine = [(key[1], doc) for key, doc in docs.docs.items() if key[0] is model]
            await upsert_documents(conn, model, mine)
    return count
