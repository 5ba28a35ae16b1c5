"""Opening the database: the configured server, or the embedded one; then the schema."""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack

import asyncpg

from eventstore.postgres.embedded import start_embedded
from eventstore.postgres.schema import migrate
from eventstore.postgres.store import init_connection

from .settings import Settings

log = logging.getLogger(__name__)


async def resolve_dsn(settings: Settings) -> str:
    if settings.database_url:
        return settings.database_url
    data_dir = settings.data_dir / "pgdata"
    log.info("no DATABASE_URL: starting the embedded PostgreSQL (data in %s)", data_dir)
    return await asyncio.to_thread(start_embedded, data_dir)


# Bounds on every wait for the database, so that a stalled server (one that neither answers nor
# refuses) cannot hold a request past an agent's 2 s timeout or a part of the process forever.
CONNECT_TIMEOUT = 5.0  # seconds to open a connection
COMMAND_TIMEOUT = 30.0  # seconds for one statement on a pooled connection (a long one is a stall)


async def open_pool(stack: AsyncExitStack, dsn: str, *, max_size: int = 10) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(dsn, init=init_connection, min_size=2, max_size=max_size,
                                     timeout=CONNECT_TIMEOUT, command_timeout=COMMAND_TIMEOUT)
    stack.push_async_callback(pool.close)
    async with pool.acquire() as conn:
        await migrate(conn)
    return pool
