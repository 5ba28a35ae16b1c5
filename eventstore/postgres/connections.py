"""Opening connections to PostgreSQL: the pool, and single connections of their own.

Every wait is bounded, so that a stalled server (one that neither answers nor refuses) cannot hold
a request past an agent's 2 s timeout or a part of the process for ever.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import asyncpg

from .schema import migrate
from .store import init_connection

CONNECT_TIMEOUT = 5.0  # seconds to open a connection
COMMAND_TIMEOUT = 30.0  # seconds for one statement on a pooled connection (a long one is a stall)

Pool = asyncpg.Pool  # for type annotations at the edges, which do not import the driver
Connector = Callable[[], Awaitable[asyncpg.Connection]]


async def open_pool(dsn: str, *, max_size: int = 10) -> asyncpg.Pool:
    """A pool on ``dsn`` with the schema migrated; the caller closes it."""
    pool = await asyncpg.create_pool(dsn, init=init_connection, min_size=2, max_size=max_size,
                                     timeout=CONNECT_TIMEOUT, command_timeout=COMMAND_TIMEOUT)
    try:
        async with pool.acquire() as conn:
            await migrate(conn)
    except BaseException:
        await pool.close()
        raise
    return pool


def connector(dsn: str) -> Connector:
    """Opens a connection of its own on ``dsn`` (for LISTEN, a lease or a liveness ping)."""
    return lambda: asyncpg.connect(dsn, timeout=CONNECT_TIMEOUT)
