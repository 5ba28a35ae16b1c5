"""Whether the database answers, watched on a connection of its own.

A stalled server (stopped, partitioned, its disk hung) neither answers nor refuses: a query sent
to it waits for the statement timeout. Agents give up after 2 s, so the store must know sooner.
``Liveness`` pings every ``interval`` with a ``timeout``; one missed answer marks the database
down, and then reads in flight and appends not yet committed are answered "unavailable" at once
(503 with Retry-After), new ones without trying. The next answered ping marks it up again. A slow
query alone never counts: the ping is ``SELECT clock_timestamp()`` on a connection nothing else
uses (its answer also tells the service the database's time: ``bot.clock.DatabaseClock``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import TypeVar

import asyncpg

from ..store import StoreUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")

INTERVAL = 0.25  # seconds between pings
TIMEOUT = 0.75  # seconds a ping (or opening its connection) may take: down within 1 s of a stall


class Liveness:
    def __init__(self, connect: Callable[[], Awaitable[asyncpg.Connection]], *,
                 interval: float = INTERVAL, timeout: float = TIMEOUT,
                 wall: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        self._connect = connect
        self._wall = wall
        self._on_time: list[Callable[[datetime, datetime, datetime], None]] = []
        self._interval = interval
        self._timeout = timeout
        self._conn: asyncpg.Connection | None = None
        self._up = True  # until a ping says otherwise: start-up has just connected
        self._down = asyncio.Event()  # set while down
        self._on_down: list[Callable[[], None]] = []
        self.reason: str | None = None

    @property
    def up(self) -> bool:
        return self._up

    def on_time(self, callback: Callable[[datetime, datetime, datetime], None]) -> None:
        """Call ``callback(database time, sent, received)`` after each ping (``wall`` times)."""
        self._on_time.append(callback)

    def on_down(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` each time the database is found down (the store aborts its write)."""
        self._on_down.append(callback)

    async def run(self, stop: asyncio.Event) -> None:
        """Ping until ``stop`` is set."""
        try:
            while not stop.is_set():
                await self.check()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), self._interval)
        finally:
            self._drop()

    async def check(self) -> bool:
        """One ping; updates and returns the state."""
        try:
            conn = await self._connection()
            sent = self._wall()
            database_now = await asyncio.wait_for(conn.fetchval("SELECT clock_timestamp()"), self._timeout)
            received = self._wall()
        except Exception as exc:  # noqa: BLE001 - any failure to answer is "down"
            self._drop()
            self._mark_down(f"no answer within {self._timeout:g} s" if isinstance(exc, asyncio.TimeoutError)
                            else f"{type(exc).__name__}: {exc}"[:300])
            return False
        for callback in self._on_time:
            callback(database_now, sent, received)
        if not self._up:
            log.warning("the database answers again")
        self._up, self.reason = True, None
        self._down.clear()
        return True

    async def _connection(self) -> asyncpg.Connection:
        if self._conn is None or self._conn.is_closed():
            self._conn = await asyncio.wait_for(self._connect(), self._timeout)
        return self._conn

    def _mark_down(self, reason: str) -> None:
        self.reason = reason
        if self._up:
            log.warning("the database does not answer (%s): answering 503 until it does", reason)
        self._up = False
        self._down.set()
        for callback in self._on_down:
            callback()

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.terminate()  # not close(): a stalled server would never answer the goodbye

    def unavailable(self) -> StoreUnavailable:
        return StoreUnavailable(f"the database does not answer ({self.reason or 'down'})")

    async def guard(self, work: Awaitable[T]) -> T:
        """``await work``, unless the database is (or is found) down first: then StoreUnavailable
        at once, and ``work`` is cancelled."""
        if not self._up:
            if asyncio.iscoroutine(work):
                work.close()
            raise self.unavailable()
        task = asyncio.ensure_future(work)
        down = asyncio.ensure_future(self._down.wait())
        try:
            await asyncio.wait((task, down), return_when=asyncio.FIRST_COMPLETED)
        finally:
            down.cancel()
            if not task.done():  # the database went down first, or our caller was cancelled
                task.cancel()
        if not task.done() or task.cancelled():  # (cancellation takes effect at the task's next step)
            raise self.unavailable()
        return task.result()
