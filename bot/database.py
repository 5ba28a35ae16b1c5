"""Which database: the configured server, or the embedded one."""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack

from eventstore.postgres import connections
from eventstore.postgres.connections import Pool
from eventstore.postgres.embedded import start_embedded

from .settings import Settings

log = logging.getLogger(__name__)


async def resolve_dsn(settings: Settings) -> str:
    if settings.database_url:
        return settings.database_url
    data_dir = settings.data_dir / "pgdata"
    log.info("no DATABASE_URL: starting the embedded PostgreSQL (data in %s)", data_dir)
    return await asyncio.to_thread(start_embedded, data_dir)


async def open_pool(stack: AsyncExitStack, dsn: str, *, max_size: int = 10) -> Pool:
    """The pool, schema migrated, closed with ``stack``."""
    pool = await connections.open_pool(dsn, max_size=max_size)
    stack.push_async_callback(pool.close)
    return pool
