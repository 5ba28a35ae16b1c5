"""Checkpoints, thread links, new-event wake-ups and the single-poster lease, over PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg

from ..store import StoreUnavailable
from .schema import NOTIFIER_LOCK, NOTIFY_CHANNEL
from .store import CONNECTION_ERRORS

log = logging.getLogger(__name__)


class PostgresCheckpoints:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def load(self, name: str) -> int:
        try:
            value = await self._pool.fetchval(
                "SELECT last_seq_id FROM mt_event_progression WHERE name = $1", f"{name}:All")
        except CONNECTION_ERRORS as exc:
            raise StoreUnavailable(str(exc)) from exc
        return int(value or 0)

    async def save(self, name: str, seq: int) -> None:
        try:
            await self._pool.execute("SELECT mt_mark_event_progression($1, $2)", f"{name}:All", seq)
        except CONNECTION_ERRORS as exc:
            raise StoreUnavailable(str(exc)) from exc


class PostgresThreadLinks:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def _run(self, method: str, sql: str, *args: object) -> object:
        try:
            return await getattr(self._pool, method)(sql, *args)
        except CONNECTION_ERRORS as exc:
            raise StoreUnavailable(str(exc)) from exc

    async def thread_for(self, stream_id: str) -> tuple[int, int] | None:
        row = await self._run("fetchrow", "SELECT thread_id, last_seq FROM ce_discord_threads WHERE stream_id = $1",
                              stream_id)
        return (row["thread_id"], row["last_seq"]) if row else None  # type: ignore[index]

    async def link(self, stream_id: str, thread_id: int) -> None:
        await self._run("execute", "INSERT INTO ce_discord_threads (stream_id, thread_id) VALUES ($1, $2) "
                        "ON CONFLICT (stream_id) DO UPDATE SET thread_id = EXCLUDED.thread_id", stream_id, thread_id)

    async def posted(self, stream_id: str, seq: int) -> None:
        await self._run("execute", "UPDATE ce_discord_threads SET last_seq = GREATEST(last_seq, $2) "
                        "WHERE stream_id = $1", stream_id, seq)

    async def message_for(self, key: str) -> tuple[int, int] | None:
        row = await self._run("fetchrow", "SELECT channel_id, message_id FROM ce_discord_messages WHERE key = $1", key)
        return (row["channel_id"], row["message_id"]) if row else None  # type: ignore[index]

    async def remember_message(self, key: str, channel_id: int, message_id: int) -> None:
        await self._run("execute", "INSERT INTO ce_discord_messages (key, channel_id, message_id) VALUES ($1, $2, $3) "
                        "ON CONFLICT (key) DO UPDATE SET channel_id = EXCLUDED.channel_id, "
                        "message_id = EXCLUDED.message_id", key, channel_id, message_id)


    async def forget_message(self, key: str) -> None:
        await self._run("execute", "DELETE FROM ce_discord_messages WHERE key = $1", key)

    async def stream_of_message(self, message_id: int) -> str | None:
        key = await self._run("fetchval", "SELECT key FROM ce_discord_messages WHERE message_id = $1", message_id)
        return str(key).split(":", 1)[1] if key else None


class EventWakeups:
    """Wakes a reader when events commit (LISTEN/NOTIFY), and holds the single-poster lease.

    A failed LISTEN never stops the reader: it falls back to polling (``wait`` times out).
    The lease is a session advisory lock on the same dedicated connection, so it is released
    by PostgreSQL itself if this process dies.
    """

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._conn: asyncpg.Connection | None = None
        self._event = asyncio.Event()
        self._leased: asyncpg.Connection | None = None  # the session that holds the lease

    def _notified(self, *_: object) -> None:
        self._event.set()

    async def _connection(self) -> asyncpg.Connection | None:
        if self._conn is not None and not self._conn.is_closed():
            return self._conn
        self._conn = None
        try:
            conn = await self._pool.acquire()
            await conn.add_listener(NOTIFY_CHANNEL, self._notified)
        except Exception as exc:  # noqa: BLE001 - any failure means "poll instead"
            log.warning("LISTEN failed, polling instead: %s", exc)
            return None
        self._conn = conn
        return conn

    async def acquire_lease(self) -> bool:
        """True while this process is the one poster; cheap to call before every batch."""
        conn = await self._connection()
        if conn is None:
            return False
        if self._leased is conn:
            return True
        try:
            if await conn.fetchval("SELECT pg_try_advisory_lock($1)", NOTIFIER_LOCK):
                self._leased = conn
                return True
        except CONNECTION_ERRORS:
            await self.close()
        return False

    async def wait(self, timeout: float) -> None:
        """Return when events may have arrived, or after ``timeout`` seconds."""
        await self._connection()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout)
        self._event.clear()

    async def close(self) -> None:
        conn, self._conn, self._leased = self._conn, None, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.remove_listener(NOTIFY_CHANNEL, self._notified)
                await conn.execute("SELECT pg_advisory_unlock_all()")
            with contextlib.suppress(Exception):
                await self._pool.release(conn)
