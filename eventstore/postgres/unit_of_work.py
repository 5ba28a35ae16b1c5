"""What one batch (or one decision) reads and stages, and its write.

``load`` reads in one query what the batch needs (stored ids, stream versions, documents, and
markers of what it saw); ``append`` stages an event and runs the inline projections, which may
stage follow-ups; ``flush`` writes everything with one call of ``ce_append_batch``.
A unit runs either optimistically, without the lock -- then ``flush`` passes the markers and the
function refuses the batch (StaleRead) if they moved -- or inside a locked transaction
(decisions, and the redo of a refused batch), where nothing it reads can change under it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, TypeVar

import asyncpg
import orjson
from pydantic import BaseModel

from ..projections import Projector
from ..projections.agent_status import AgentStatus
from ..projections.issue_status import IssueStatus
from ..store import PendingEvent, RecordedEvent
from . import queries as q
from .documents import doc_table, dotnet_type, dump_doc, event_dotnet_type, load_doc
from .schema import APPEND_LOCK

D = TypeVar("D", bound=BaseModel)

_UPSERT_DOCS = """
INSERT INTO {table} (id, data, mt_last_modified, mt_dotnet_type)
SELECT i, d::jsonb, COALESCE($3, transaction_timestamp()), $4 FROM unnest($1::varchar[], $2::text[]) AS u(i, d)
ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data, mt_last_modified = EXCLUDED.mt_last_modified
"""
_LOAD_MARKERS = ("(SELECT coalesce(max(seq_id), 0) FROM mt_events)",
                 "(SELECT doc_version FROM ce_state WHERE id = 1)")
_LOAD_EVENTS = """(SELECT coalesce(json_agg(json_build_object('seq_id', e.seq_id, 'id', e.id, 'stream_id', e.stream_id,
    'version', e.version, 'type', e.type, 'timestamp', e."timestamp", 'data', e.data,
    'fingerprint', encode(f.digest, 'hex'))), '[]')
  FROM mt_events e LEFT JOIN ce_event_fingerprints f ON f.id = e.id WHERE e.id = ANY($1::uuid[]))"""
_LOAD_VERSIONS = """(SELECT coalesce(json_object_agg(id, coalesce(version, 0)), '{}')
  FROM mt_streams WHERE id = ANY($2::varchar[]))"""
_LOAD_DOCS = """(SELECT coalesce(json_object_agg(id, data), '{{}}') FROM {table} WHERE id = ANY(${n}::varchar[]))"""


class StaleRead(Exception):
    """What the batch was computed from changed before it could be written (SQLSTATE CE001)."""


class PostgresUnitOfWork:
    """``lazy_versions``: stream versions are not read at all; ``ce_append_batch`` numbers the
    events itself (for batches that need no state). Otherwise versions are read when needed."""

    def __init__(self, conn: asyncpg.Connection, now: datetime, projector: Projector | None, *,
                 lazy_versions: bool = False,
                 docs: dict[tuple[type[BaseModel], str], BaseModel | None] | None = None) -> None:
        self._conn = conn
        self.now = now
        self._projector = projector
        self._lazy_versions = lazy_versions
        self.read_up_to: int | None = None
        self.read_docs: int | None = None
        self._versions: dict[str, int] = {}
        # Documents this unit loaded or changed; ``cache`` (read only here) holds documents known to
        # be current as of the state the batch is checked against.
        self.docs: dict[tuple[type[BaseModel], str], BaseModel | None] = {}
        self._cache = docs or {}
        # set by flush: the document version before and after this batch
        self.docs_before: int | None = None
        self.docs_after: int | None = None
        self._dirty: dict[tuple[type[BaseModel], str], BaseModel] = {}
        # The staged events in staging order, each with its stream version (0: numbered by
        # ce_append_batch), and the same events as ce_append_batch takes them.
        self._staged: list[tuple[PendingEvent, int]] = []
        self._rows: list[tuple[Any, ...]] = []
        # Set by load: the fingerprints stored with the events it found (for those that have one).
        self.fingerprints: dict[uuid.UUID, bytes] = {}

    # -- reads ---------------------------------------------------------------------------------

    async def load(self, event_ids: Iterable[uuid.UUID], stream_ids: Iterable[str],
                   documents: Mapping[type[BaseModel], Iterable[str]]) -> dict[uuid.UUID, RecordedEvent]:
        """In ONE query: which of ``event_ids`` are stored already, the streams' versions, the
        documents a batch will touch, and what the read saw (``read_up_to``: the highest seq_id;
        ``read_docs``: the document version). Returns the stored events by id."""
        wanted = [(model, sorted(set(ids))) for model, ids in documents.items()]
        columns = [_LOAD_EVENTS, _LOAD_VERSIONS] + [
            _LOAD_DOCS.format(table=doc_table(model), n=n) for n, (model, _) in enumerate(wanted, start=3)
        ] + list(_LOAD_MARKERS)
        sql = "SELECT " + ", ".join(f"{c} AS c{i}" for i, c in enumerate(columns))
        streams = sorted(set(stream_ids))
        row = await self._conn.fetchrow(sql, list(set(event_ids)), streams, *(ids for _, ids in wanted))
        assert row is not None
        versions = _json(row["c1"])
        for stream_id in streams:
            self._versions[stream_id] = int(versions.get(stream_id, 0))
        for i, (model, ids) in enumerate(wanted, start=2):
            found = _json(row[f"c{i}"])
            for doc_id in ids:
                raw = found.get(doc_id)
                self.docs[(model, doc_id)] = None if raw is None else load_doc(model, raw)
        self.read_up_to = int(row[f"c{len(columns) - 2}"])
        self.read_docs = int(row[f"c{len(columns) - 1}"])
        existing: dict[uuid.UUID, RecordedEvent] = {}
        for e in _json(row["c0"]):
            rec = RecordedEvent(e["seq_id"], uuid.UUID(e["id"]), e["stream_id"], e["version"], e["type"],
                                         datetime.fromisoformat(e["timestamp"]), e["data"])
            existing[rec.id] = rec
            if e["fingerprint"]:
                self.fingerprints[rec.id] = bytes.fromhex(e["fingerprint"])
        return existing

    async def stored_event(self, event_id: uuid.UUID) -> tuple[RecordedEvent, bytes | None] | None:
        found = (await self.load([event_id], [], {})).get(event_id)
        return None if found is None else (found, self.fingerprints.get(event_id))

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

    async def event_exists(self, event_id: uuid.UUID) -> bool:
        # A scan, not a set of staged ids: only follow-ups ask, and hashing every staged id (a
        # Python-level __hash__ per UUID) cost more than the rare scan.
        if any(p.event_id == event_id for p, _ in self._staged):
            return True
        return bool(await self._conn.fetchval("SELECT 1 FROM mt_events WHERE id = $1", event_id))

    async def get(self, model: type[D], doc_id: str) -> D | None:
        key = (model, doc_id)
        if key not in self.docs and key in self._cache:
            return self._cache[key]  # type: ignore[return-value]
        if key not in self.docs:
            raw = await self._conn.fetchval(f"SELECT data::text FROM {doc_table(model)} WHERE id = $1", doc_id)
            self.docs[key] = None if raw is None else load_doc(model, raw)
        return self.docs[key]  # type: ignore[return-value]

    # -- the read vocabulary (read_models.DocumentQueries), in this unit's transaction ------------
    # What a query finds is remembered like any document read; a document this unit changed
    # already is answered as changed.

    async def queue_head(self, limit: int, *, excluding_stuck: str | None = None) -> list[IssueStatus]:
        return await self._found(IssueStatus, q.QUEUE_HEAD, limit, excluding_stuck)

    async def open_gates(self) -> list[IssueStatus]:
        return await self._found(IssueStatus, q.OPEN_GATES)

    async def assignees(self) -> list[AgentStatus]:
        return await self._found(AgentStatus, q.ASSIGNEES)

    async def _found(self, model: type[D], sql: str, *args: Any) -> list[D]:
        found = await q.docs_from(self._conn.fetch, model, sql, *args)
        result: list[D] = []
        for doc in found:
            key = (model, doc.id)  # type: ignore[attr-defined]
            if key not in self.docs:
                self.docs[key] = doc
            current = self.docs[key]
            if current is not None:
                result.append(current)  # type: ignore[arg-type]
        return result

    # -- writes --------------------------------------------------------------------------------

    @staticmethod
    def covers(cache: Mapping[tuple[type[BaseModel], str], Any],
               documents: Mapping[type[BaseModel], Iterable[str]]) -> bool:
        """Whether ``cache`` holds every one of ``documents`` (present or known absent)."""
        return all((model, doc_id) in cache for model, ids in documents.items() for doc_id in ids)

    def put(self, doc_id: str, doc: BaseModel) -> None:
        key = (type(doc), doc_id)
        self.docs[key] = doc
        self._dirty[key] = doc

    @property
    def staged_count(self) -> int:
        """How many events are staged: the index the next staged event will have in ``flush``'s result."""
        return len(self._staged)

    def stage_unprojected(self, pending: PendingEvent) -> bool:
        """Stage ``pending`` at once if nothing has to be read or projected for it: no projection
        reads it and ce_append_batch numbers it (a unit with ``lazy_versions`` that has not read
        its stream's version). Returns False, staging nothing, otherwise: use ``append``.
        No coroutine and no RecordedEvent for the bulk of the traffic (analytics events)."""
        if not self._lazy_versions or pending.stream.id in self._versions or (
                self._projector is not None and not self._projector.is_inert(pending.event)):
            return False
        self._staged.append((pending, 0))
        self._rows.append(_row(pending))
        return True

    async def append(self, pending: PendingEvent) -> RecordedEvent:
        """Stage ``pending`` at the stream's next version and project it (and its follow-ups).
        Returns the event as the projections saw it: sequence number 0 and, with
        ``lazy_versions``, version 0 when the database numbers it.

        Sequence numbers are given at ``flush``, in staging order; projections never need them.
        """
        if self._lazy_versions and pending.stream.id not in self._versions:
            version = 0  # numbered by ce_append_batch
        else:
            version = await self.stream_version(pending.stream.id) + 1
            self._versions[pending.stream.id] = version
        self._staged.append((pending, version))
        self._rows.append(_row(pending))
        rec = _recorded(pending, 0, version, self.now)
        if self._projector is not None and not self._projector.is_inert(pending.event):
            for follow_up in await self._projector.apply(rec, pending.stream, self):
                if not await self.event_exists(follow_up.event_id):
                    await self.append(follow_up)
        return rec

    async def flush(self, *, expected_max: int | None = None, expected_docs: int | None = None
                    ) -> list[RecordedEvent]:
        """Write everything staged with ``ce_append_batch`` (one statement); returns the events with
        their sequence numbers and versions. ``expected_docs``/``expected_max``: the document
        version and highest seq_id the batch was computed from; if either moved, raises StaleRead
        and writes nothing."""
        if not self._staged:
            return []
        staged, self._staged = self._staged, []
        rows, self._rows = self._rows, []
        dirty, self._dirty = self._dirty, {}
        docs = [(doc_table(model), doc_id, dotnet_type(model), orjson.Fragment(dump_doc(doc)))
                for (model, doc_id), doc in dirty.items()]
        try:
            placed = await self._conn.fetchrow(
                "SELECT * FROM ce_append_batch($1, $2, $3, $4, $5, $6)",
                expected_max, expected_docs, APPEND_LOCK, self.now, rows, docs,
            )
        except asyncpg.PostgresError as exc:
            if getattr(exc, "sqlstate", None) == "CE001":
                raise StaleRead(str(exc)) from exc
            raise
        assert placed is not None
        self.docs_before, self.docs_after = placed["docs_before"], placed["docs_after"]
        now = self.now
        return [_recorded(p, seq, version, now)
                for (p, _), seq, version in zip(staged, placed["seqs"], placed["versions"], strict=True)]


def _recorded(pending: PendingEvent, seq: int, version: int, now: datetime) -> RecordedEvent:
    return RecordedEvent(seq, pending.event_id, pending.stream.id, version, pending.event.alias, now,
                         pending.data, pending.event)


def _row(pending: PendingEvent) -> tuple[Any, ...]:
    """An event as ce_append_batch takes it (one element of its ``events`` jsonb array). The body
    goes in as the JSON text submission already made and checked (a Fragment is copied, not
    encoded again); the stream kind, a str enum, as its value (orjson writes enums so)."""
    fingerprint = pending.fingerprint
    return (pending.stream.id, pending.stream.kind, pending.event_id, orjson.Fragment(pending.data_json),
            pending.event.alias, event_dotnet_type(type(pending.event)),
            None if fingerprint is None else fingerprint.hex())


async def upsert_documents(conn: asyncpg.Connection, model: type[BaseModel],
                           docs: list[tuple[str, BaseModel]], now: datetime | None = None, *,
                           table: str | None = None) -> None:
    """Insert or replace documents of one type in one statement (into ``table``, default the model's)."""
    await conn.execute(
        _UPSERT_DOCS.format(table=table or doc_table(model)),
        [d for d, _ in docs], [dump_doc(doc) for _, doc in docs], now, dotnet_type(model),
    )


def _json(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str) else value


def record_from_row(row: asyncpg.Record) -> RecordedEvent:
    data = row["data"]
    if isinstance(data, str):
        data = orjson.loads(data)
    return RecordedEvent(row["seq_id"], row["id"], row["stream_id"], row["version"],
                                  row["type"], row["timestamp"], data)
