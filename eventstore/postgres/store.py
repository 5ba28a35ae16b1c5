"""The PostgreSQL event store: group-committed appends, serialised decisions, reads.

Why one writer task with group commit: a measured single-row append pays most of its cost in
per-transaction overhead (round trips, commit, WAL flush), and appends to one hot stream serialise
on the stream row's lock anyway. So concurrent ``append`` calls queue here; one task takes
everything queued, writes it in ONE transaction and answers every caller after the commit.
Usually that transaction is one round trip: ``ce_append_batch`` (see schema.py) locks, numbers,
writes and commits; the documents the projections need come from a cache that the function
validates (see ``_append_batch``).

Why an advisory lock per writing transaction: seq_id comes from a sequence, and without
serialisation two transactions can commit out of seq_id order, so a reader following
``seq_id > checkpoint`` could skip an event. Holding ``APPEND_LOCK`` from ``nextval`` to commit
makes commit order equal seq_id order across every process that shares the database, so the
readers need no gap detector. The cost is that writes never overlap; batching makes that cheap.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import asyncpg
import orjson
from pydantic import BaseModel

from ..projections import Projector
from ..store import (
    AppendResult,
    ConcurrencyError,
    EventStore,
    PendingEvent,
    RecordedEvent,
    StoreError,
    StoreUnavailable,
    UnitOfWork,
    Unstorable,
    WriteObserver,
    retry_answer,
    reused_id,
)
from .errors import CONNECTION_ERRORS, store_errors
from .liveness import Liveness
from .schema import APPEND_LOCK
from .unit_of_work import PostgresUnitOfWork, StaleRead, record_from_row

log = logging.getLogger(__name__)
T = TypeVar("T")

CACHE_LIMIT = 20_000  # documents; past it the cache starts again empty
# An append or a decision not committed within APPEND_WAIT is answered "unavailable" (503): agents
# give up after 2 s, and an answer they never read is worth nothing. One still queued then is
# dropped unwritten; one already in flight may still commit, so a client that retries without an
# eventId or Idempotency-Key may store the event twice.
APPEND_WAIT = 1.2
# Jobs waiting for the writer, at most; past it new ones are refused at once (503), so a database
# that cannot keep up pushes back on clients instead of growing the process's memory.
MAX_QUEUED = 10_000



@dataclass(slots=True)
class _AppendJob:
    pending: PendingEvent
    future: asyncio.Future[AppendResult]
    deadline: float  # loop time: answered "unavailable" unless committed by then (APPEND_WAIT)


@dataclass(slots=True)
class _DecideJob:
    decision: Callable[[Any], Awaitable[Any]]
    future: asyncio.Future[Any]
    deadline: float


@dataclass(slots=True)
class _Staged:
    """Staged as the ``index``-th event of the flush's result."""

    index: int


@dataclass(slots=True)
class _RetryOf:
    """A retry of the job staged as the ``index``-th event in the same batch: answered like it."""

    index: int


# What staging decided for one job: staged, a retry of one staged, or its outcome already.
_Answer = _Staged | _RetryOf | AppendResult | StoreError


@dataclass
class _Batch:
    jobs: list[_AppendJob]


@contextlib.asynccontextmanager
async def serialised_transaction(conn: asyncpg.Connection) -> AsyncIterator[None]:
    """A transaction holding ``APPEND_LOCK`` until it ends. BEGIN and the lock travel in one
    round trip (the simple query protocol takes both statements in one message)."""
    try:
        await conn.execute(f"BEGIN; SELECT pg_advisory_xact_lock({APPEND_LOCK})")
        yield
    except BaseException:
        if not conn.is_closed():
            with contextlib.suppress(Exception):
                await conn.execute("ROLLBACK")
        raise
    await conn.execute("COMMIT")


def _json_text(value: Any) -> str:
    # default=str: asyncpg's own UUID type (ids read back from the database) is not orjson's uuid.UUID
    return orjson.dumps(value, default=str).decode()


async def init_connection(conn: asyncpg.Connection) -> None:
    for typename in ("json", "jsonb"):
        await conn.set_type_codec(typename, encoder=_json_text, decoder=orjson.loads, schema="pg_catalog")


class PostgresEventStore(EventStore):
    """See ``EventStore``. ``start()`` before use, ``close()`` to drain and stop the writer."""

    def __init__(self, pool: asyncpg.Pool, *, clock: Callable[[], datetime],
                 projector: Projector | None = None, max_batch: int = 500,
                 liveness: Liveness | None = None, append_wait: float = APPEND_WAIT,
                 max_queued: int = MAX_QUEUED, observer: WriteObserver | None = None) -> None:
        self._pool = pool
        self._observer = observer
        self._liveness = liveness
        self._append_wait = append_wait
        self._max_queued = max_queued
        if liveness is not None:
            liveness.on_down(self._abort_write)
        self._clock = clock
        self._projector = projector
        self._max_batch = max_batch
        self._jobs: deque[_AppendJob | _DecideJob] = deque()
        self._wakeup = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._conn: asyncpg.Connection | None = None
        self._closing = False
        self._last_batch = 0  # size of the latest batch (see _next_work)
        self._in_flight: list[_AppendJob] | list[_DecideJob] = []  # the batch or decision being written
        self._sweep: asyncio.TimerHandle | None = None  # see _expire_overdue
        # Documents this process read or wrote, current as of document version ``_cache_docs``.
        self._cache: dict[tuple[type[BaseModel], str], BaseModel | None] = {}
        self._cache_docs: int | None = None
        self._uncached = projector.uncached_documents() if projector is not None else frozenset()

    @property
    def pool(self) -> asyncpg.Pool:
        return self._pool

    @property
    def queued(self) -> int:
        """Appends and decisions waiting for the writer (the batch in flight not counted)."""
        return len(self._jobs)

    async def start(self) -> None:
        self._writer = asyncio.create_task(self._run_writer(), name="event-store-writer")

    async def close(self) -> None:
        """Finish every job already queued, then stop the writer."""
        self._closing = True
        self._wakeup.set()
        if self._writer is not None:
            await self._writer
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None
        if self._conn is not None:
            await self._pool.release(self._conn)
            self._conn = None

    # -- EventStore -------------------------------------------------------------------------------

    def append(self, pending: PendingEvent) -> asyncio.Future[AppendResult]:
        # Not a coroutine: the future the writer settles is itself what callers await, which spares
        # a coroutine object and a frame per event. Awaited like the async method it implements.
        loop = asyncio.get_running_loop()
        future: asyncio.Future[AppendResult] = loop.create_future()
        self._submit(_AppendJob(pending, future, loop.time() + self._append_wait))
        return future

    async def decide(self, decision: Callable[[UnitOfWork], Awaitable[T]]
                     ) -> tuple[T, list[RecordedEvent]]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[T, list[RecordedEvent]]] = loop.create_future()
        self._submit(_DecideJob(decision, future, loop.time() + self._append_wait))
        return await future

    async def read_stream(self, stream_id: str, from_version: int = 1,
                          limit: int | None = None) -> Sequence[RecordedEvent]:
        rows = await self._fetch(
            'SELECT seq_id, id, stream_id, version, type, "timestamp", data FROM mt_events '
            "WHERE stream_id = $1 AND version >= $2 ORDER BY version LIMIT $3",
            stream_id, from_version, limit,
        )
        return [record_from_row(r) for r in rows]

    async def read_all(self, after: int = 0, limit: int = 1000) -> Sequence[RecordedEvent]:
        rows = await self._fetch(
            'SELECT seq_id, id, stream_id, version, type, "timestamp", data FROM mt_events '
            "WHERE seq_id > $1 ORDER BY seq_id LIMIT $2",
            after, limit,
        )
        return [record_from_row(r) for r in rows]

    async def stream_version(self, stream_id: str) -> int:
        rows = await self._fetch("SELECT version FROM mt_streams WHERE id = $1", stream_id)
        return int(rows[0]["version"] or 0) if rows else 0

    async def ping(self) -> None:
        await self._fetch("SELECT 1")

    async def _fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        with store_errors():
            if self._liveness is not None:
                return await self._liveness.guard(self._pool.fetch(sql, *args))
            return await self._pool.fetch(sql, *args)

    # -- the writer -------------------------------------------------------------------------------

    def _submit(self, job: _AppendJob | _DecideJob) -> None:
        if self._closing:
            job.future.set_exception(StoreUnavailable("the service is shutting down"))
            return
        if self._liveness is not None and not self._liveness.up:
            job.future.set_exception(self._liveness.unavailable())
            return
        if len(self._jobs) >= self._max_queued:
            # Jobs answered already (expired) count until the writer passes them: the bound is on
            # what the queue holds, so memory stays bounded while the writer is stuck.
            job.future.set_exception(StoreUnavailable(f"the write queue is full ({self._max_queued} waiting)"))
            return
        self._jobs.append(job)
        self._wakeup.set()
        if self._sweep is None:
            self._sweep = asyncio.get_running_loop().call_later(self._append_wait / 10, self._expire_overdue)

    def _expire_overdue(self) -> None:
        """Answer "unavailable" every job past its deadline, queued or in flight (see APPEND_WAIT).
        One timer for all jobs, a tenth of the wait apart, while any are outstanding."""
        self._sweep = None
        now = asyncio.get_running_loop().time()
        for job in self._in_flight:
            if job.deadline <= now:
                _settle(job.future, StoreUnavailable(f"the database did not commit within {self._append_wait:g} s"))
        for job in self._jobs:  # oldest first: the first one not overdue ends the search
            if job.deadline > now:
                break
            _settle(job.future, StoreUnavailable(f"the database did not commit within {self._append_wait:g} s"))
        if self._jobs or self._in_flight:
            self._sweep = asyncio.get_running_loop().call_later(self._append_wait / 10, self._expire_overdue)

    def _abort_write(self) -> None:
        """The database was found down: drop the writer's connection, so a statement stuck on a
        stalled server fails now instead of after the statement timeout."""
        if self._conn is not None:
            self._conn.terminate()

    def _next_work(self) -> _Batch | _DecideJob:
        first = self._jobs.popleft()
        if isinstance(first, _DecideJob):
            return first
        # Under steady load the callers form two groups that take turns: one batch is in the
        # database while the other group's requests are parsed and queued. Whatever the split, it
        # persists (each group resubmits during the other's round trip), and an uneven one -- 3
        # and 13 of 16 clients were seen -- leaves the process idle while the big batch is in
        # flight. Taking at most half of what is outstanding (queued plus the batch that just
        # returned) evens the groups out within a round; the rest go first in the next batch.
        limit = min(self._max_batch, max(1, (len(self._jobs) + 1 + self._last_batch + 1) // 2))
        batch = _Batch([first])
        while self._jobs and len(batch.jobs) < limit and isinstance(self._jobs[0], _AppendJob):
            batch.jobs.append(self._jobs.popleft())  # type: ignore[arg-type]
        self._last_batch = len(batch.jobs)
        return batch

    async def _run_writer(self) -> None:
        while True:
            if not self._jobs:
                if self._closing:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            work = self._next_work()
            jobs = [work] if isinstance(work, _DecideJob) else work.jobs
            self._in_flight = jobs
            try:
                if isinstance(work, _DecideJob):
                    await self._run_decision(work)
                else:
                    await self._run_batch(work.jobs)
            except Exception as exc:  # the writer must outlive any one failure
                log.exception("event store writer: unexpected failure")
                for job in jobs:  # nobody waits forever: whoever is still waiting gets an error
                    _settle(job.future, StoreUnavailable(f"unexpected failure: {type(exc).__name__}"))
            finally:
                self._in_flight = []

    async def _connection(self) -> asyncpg.Connection:
        if self._conn is None or self._conn.is_closed():
            conn = await self._pool.acquire()
            # The writer's few statements are prepared once, often while the tables are still
            # empty; a generic plan made then would scan whole tables forever. Plan each run.
            await conn.execute("SET plan_cache_mode = force_custom_plan")
            self._conn = conn
        return self._conn

    async def _drop_connection(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            conn.terminate()  # it failed: not worth a reset that a stalled server would never answer
            with contextlib.suppress(Exception):
                await self._pool.release(conn)

    async def _run_batch(self, jobs: list[_AppendJob]) -> None:
        live = [j for j in jobs if not j.future.done()]  # not answered already (expired, cancelled)
        if not live:
            return
        if self._liveness is not None and not self._liveness.up:
            _fail(live, self._liveness.unavailable())
            return
        try:
            await self._append_batch(live)
        except CONNECTION_ERRORS as exc:
            await self._drop_connection()
            _fail(live, StoreUnavailable(f"database unavailable: {exc}"))
        except Exception as exc:  # refused by the database, or a bug in a projection or rule
            if len(live) == 1:
                if isinstance(exc, asyncpg.DataError):  # SQLSTATE class 22: this event's data, not the database
                    log.info("append refused by the database; nothing stored: %s", exc)
                    _fail(live, Unstorable(f"the database cannot store this event: {exc}"))
                    return
                log.error("append failed; nothing stored: %s", exc, exc_info=not isinstance(exc, asyncpg.PostgresError))
                _fail(live, StoreUnavailable(f"the event could not be stored: {type(exc).__name__}"))
                return
            # One bad event must not sink the others that shared its transaction: retry alone.
            for job in live:
                await self._run_batch([job])

    async def _append_batch(self, jobs: list[_AppendJob]) -> None:
        """One batch, usually in ONE round trip (``ce_append_batch``).

        - Analytics events with fresh ids need no state: written as they are.
        - Others need documents. If every one is in the cache, the batch is computed from it;
          otherwise the state is read first (without the lock). Either way the function refuses
          the write (StaleRead) if documents changed since -- or, for a batch that relied on
          stream versions or stored ids, if any event was appended since -- and the batch is
          redone inside a locked transaction that reads everything afresh.
        """
        started = asyncio.get_running_loop().time()
        conn = await self._connection()
        pendings = [j.pending for j in jobs]
        projector = self._projector
        inert = projector is None or all(projector.is_inert(p.event) for p in pendings)
        must_read = any(p.may_exist or p.expected_version is not None for p in pendings)
        wanted = projector.documents_for(pendings) if projector is not None and not inert else {}
        try:
            try:
                if inert and not must_read:
                    uow = PostgresUnitOfWork(conn, self._clock(), projector, lazy_versions=True)
                    answers = await self._stage(uow, jobs, read=False)
                    recorded = await uow.flush()
                elif not must_read and self._cache_docs is not None and PostgresUnitOfWork.covers(self._cache, wanted):
                    uow = PostgresUnitOfWork(conn, self._clock(), projector, lazy_versions=True, docs=self._cache)
                    answers = await self._stage(uow, jobs, read=False)
                    recorded = await uow.flush(expected_docs=self._cache_docs)
                else:
                    uow = PostgresUnitOfWork(conn, self._clock(), projector)
                    answers = await self._stage(uow, jobs, read=True)
                    recorded = await uow.flush(expected_docs=uow.read_docs,
                                               expected_max=uow.read_up_to if must_read else None)
            except StaleRead:
                log.debug("state changed since the batch read it; redoing it under the lock")
                async with serialised_transaction(conn):
                    uow = PostgresUnitOfWork(conn, self._clock(), projector)
                    answers = await self._stage(uow, jobs, read=True)
                    recorded = await uow.flush()
        except BaseException:
            self._forget_cache()
            raise
        self._remember(uow, recorded)
        for job, answer in zip(jobs, answers, strict=True):
            match answer:
                case _Staged(index):
                    _settle(job.future, AppendResult(recorded[index], duplicate=False))
                case _RetryOf(index):
                    _settle(job.future, retry_answer(recorded[index], job.pending))
                case _:
                    _settle(job.future, answer)
        if self._observer is not None:
            now = asyncio.get_running_loop().time()
            # Jobs are in arrival order, and a job's deadline is its arrival plus the wait.
            self._observer.appended(recorded, len(jobs), now - (jobs[0].deadline - self._append_wait), now - started)

    # -- the document cache -----------------------------------------------------------------------
    # ce_append_batch reports the document version (ce_state) before and after each batch: if
    # "before" is not the version the cache was current at, another process changed documents and
    # the cache is dropped; what this batch read or wrote is current at "after". Analytics events
    # never change documents, so another process's analytics traffic leaves the cache valid.

    def _remember(self, uow: PostgresUnitOfWork, recorded: list[RecordedEvent]) -> None:
        if not recorded:
            return
        if uow.docs_before != self._cache_docs:
            self._cache.clear()
        # (Documents the projector keeps out of the cache, such as an execution's log, are never read
        # from it: a batch that needs one reads it.)
        kept = uow.docs if not self._uncached else {k: d for k, d in uow.docs.items() if k[0] not in self._uncached}
        self._cache.update(kept)
        if len(self._cache) > CACHE_LIMIT:  # the bound holds after every batch, however many it read
            self._cache = dict(kept) if len(kept) <= CACHE_LIMIT else {}
        self._cache_docs = uow.docs_after

    def _forget_cache(self) -> None:
        self._cache.clear()
        self._cache_docs = None

    async def _stage(self, uow: PostgresUnitOfWork, jobs: list[_AppendJob], *, read: bool) -> list[_Answer]:
        """Check each job (duplicate, expected version) and stage the ones that pass. Returns per
        job what became of it (``_Answer``).

        Only client-chosen ids (``may_exist``) can repeat, so only they are looked up: a fresh
        server id is never hashed here (a UUID's hash is Python code)."""
        answers: list[_Answer] = []
        first_with_id: dict[uuid.UUID, int] = {}
        jobs_by_index: dict[int, _AppendJob] = {}
        existing: dict[uuid.UUID, RecordedEvent] = {}
        if read:
            pendings = [j.pending for j in jobs]
            wanted = self._projector.documents_for(pendings) if self._projector is not None else {}
            existing = await uow.load((p.event_id for p in pendings if p.may_exist),
                                      (p.stream.id for p in pendings), wanted)
        for job in jobs:
            p = job.pending
            if p.may_exist:
                stored = existing.get(p.event_id)
                if stored is not None:
                    answers.append(retry_answer(stored, p, uow.fingerprints.get(p.event_id)))
                    continue
                earlier = first_with_id.get(p.event_id)
                if earlier is not None:  # a retry inside the same batch: answered like the first
                    first = jobs_by_index[earlier].pending
                    same = first.fingerprint is None or p.fingerprint is None or first.fingerprint == p.fingerprint
                    answers.append(_RetryOf(earlier) if same else reused_id(p))
                    continue
            if p.expected_version is not None and (
                actual := await uow.stream_version(p.stream.id)
            ) != p.expected_version:
                answers.append(ConcurrencyError(p.stream.id, p.expected_version, actual))
                continue
            index = uow.staged_count
            if p.may_exist:
                first_with_id[p.event_id] = index
                jobs_by_index[index] = job
            if not uow.stage_unprojected(p):
                await uow.append(p)
            answers.append(_Staged(index))
        return answers

    async def _run_decision(self, job: _DecideJob) -> None:
        if job.future.done():
            return
        if self._liveness is not None and not self._liveness.up:
            _settle(job.future, self._liveness.unavailable())
            return
        try:
            conn = await self._connection()
            async with serialised_transaction(conn):
                uow = PostgresUnitOfWork(conn, self._clock(), self._projector)
                value = await job.decision(uow)
                recorded = await uow.flush()
            self._remember(uow, recorded)
        except CONNECTION_ERRORS as exc:
            self._forget_cache()
            await self._drop_connection()
            _settle(job.future, StoreUnavailable(f"database unavailable: {exc}"))
        except asyncpg.PostgresError as exc:
            _settle(job.future, StoreUnavailable(f"the database refused the write: {exc}"))
        except Exception as exc:  # the decision's own refusal, delivered to its caller
            _settle(job.future, exc)
        else:
            _settle(job.future, (value, recorded))
            if self._observer is not None:
                self._observer.decided(recorded, asyncio.get_running_loop().time() - (job.deadline - self._append_wait))


def _settle(future: asyncio.Future[Any], outcome: Any) -> None:
    if future.done():
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


def _fail(jobs: list[_AppendJob], error: StoreError) -> None:
    for job in jobs:
        _settle(job.future, error)
