"""Checkpoints, thread links, new-event wake-ups and the single-poster lease, over PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import asyncpg

from ..subscriptions import Lag
from .errors import store_errors
from .schema import NOTIFIER_LOCK, NOTIFY_CHANNEL

log = logging.getLogger(__name__)


class PostgresCheckpoints:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def load(self, name: str) -> int:
        with store_errors():
            value = await self._pool.fetchval(
                "SELECT last_seq_id FROM mt_event_progression WHERE name = $1", f"{name}:All")
        return int(value or 0)

    async def save(self, name: str, seq: int) -> None:
        with store_errors():
            await self._pool.execute("SELECT mt_mark_event_progression($1, $2)", f"{name}:All", seq)

    async def lag(self, name: str) -> Lag:
        with store_errors():
            row = await self._pool.fetchrow(_LAG, f"{name}:All")
        assert row is not None
        return Lag(int(row["events"]), float(row["seconds"] or 0.0))


# How far a reader is behind: events after its checkpoint, and the age of the oldest of them (by
# the database's clock). Both from indexes: max(seq_id) and a seq_id range on the primary key.
_LAG = """
WITH checkpoint AS (
    SELECT coalesce((SELECT last_seq_id FROM mt_event_progression WHERE name = $1), 0) AS seq
)
SELECT greatest(coalesce((SELECT max(seq_id) FROM mt_events), 0) - c.seq, 0) AS events,
       extract(epoch FROM now() - (SELECT e."timestamp" FROM mt_events e WHERE e.seq_id > c.seq
                                   ORDER BY e.seq_id LIMIT 1)) AS seconds
FROM checkpoint c
"""


class PostgresThreadLinks:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def _run(self, method: str, sql: str, *args: object) -> object:
        with store_errors():
            return await getattr(self._pool, method)(sql, *args)

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
    """Wakes a reader when events commit (LISTEN/NOTIFY), and holds its single-reader lease.

    Both live on one dedicated connection of its own (not a pooled one: a pool hands back a proxy
    that raises once the pool has taken its connection back, as it does when the server
    restarts). Nothing here raises: a failed LISTEN means "poll instead" (``wait`` times out),
    and a lost connection is opened again at the next call. The lease is a session advisory lock
    on that connection, so PostgreSQL itself releases it if this process dies or the connection
    drops, and another process takes over.
    """

    def __init__(self, connect: Callable[[], Awaitable[asyncpg.Connection]], lease: int = NOTIFIER_LOCK) -> None:
        """``lease``: the advisory lock key of the one reader it elects (Discord delivery by default)."""
        self._connect = connect
        self._lease = lease
        self._conn: asyncpg.Connection | None = None
        self._event = asyncio.Event()
        self._leased: asyncpg.Connection | None = None  # the session that holds the lease

    def _notified(self, *_: object) -> None:
        self._event.set()

    def _lost(self, *_: object) -> None:
        self._event.set()  # wake the reader, which finds the connection closed and opens another

    async def _connection(self) -> asyncpg.Connection | None:
        if self._conn is not None and not self._conn.is_closed():
            return self._conn
        await self.close()
        try:
            conn = await self._connect()
        except Exception as exc:  # noqa: BLE001 - any failure means "poll instead"
            log.warning("LISTEN connection failed, polling instead: %s", exc)
            return None
        try:
            conn.add_termination_listener(self._lost)
            await conn.add_listener(NOTIFY_CHANNEL, self._notified)
        except Exception as exc:  # noqa: BLE001
            log.warning("LISTEN failed, polling instead: %s", exc)
            with contextlib.suppress(Exception):
                conn.terminate()
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
            if await conn.fetchval("SELECT pg_try_advisory_lock($1)", self._lease):
                self._leased = conn
                return True
        except Exception as exc:  # noqa: BLE001 - a lost connection: no lease, open another next time
            log.warning("delivery lease check failed: %s", exc)
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
        if conn is None:
            return
        if not conn.is_closed():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 2)  # releases the LISTEN and the lease
        with contextlib.suppress(Exception):
            conn.terminate()
