"""Which database: the configured server, or the embedded one; a StartupError when it cannot be had."""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack

from eventstore.postgres import connections
from eventstore.postgres.connections import DatabaseRefused, DatabaseUnreachable, Pool, safe_dsn
from eventstore.postgres.embedded import EmbeddedError, start_embedded

from .settings import Settings
from .startup import SETTING, UNAVAILABLE, StartupError

log = logging.getLogger(__name__)


async def resolve_dsn(settings: Settings) -> str:
    if settings.database_url:
        return settings.database_url
    data_dir = settings.data_dir / "pgdata"
    log.info("no DATABASE_URL: starting the embedded PostgreSQL (data in %s)", data_dir)
    try:
        server = await asyncio.to_thread(start_embedded, data_dir)
    except EmbeddedError as exc:
        if exc.setting:
            raise StartupError(f"{exc}: set CONDUCTOR_E_DATA_DIR to another folder, or DATABASE_URL to a server "
                               "of your own", SETTING) from None
        raise StartupError(str(exc), UNAVAILABLE) from None
    log.info("embedded PostgreSQL running (pid %s): data in %s, its log in %s", server.pid, server.data_dir,
             server.log_file)
    log.info("connect to the embedded PostgreSQL with: %s", server.psql)
    return server.dsn


async def open_pool(stack: AsyncExitStack, dsn: str, *, max_size: int = 10, wait: float = 0.0) -> Pool:
    """The pool, schema migrated, closed with ``stack``. Waits up to ``wait`` seconds for a server
    that cannot be reached yet (``DATABASE_CONNECT_TIMEOUT_SECONDS``), saying so at each try."""
    where = safe_dsn(dsn)

    def retrying(reason: str, pause: float) -> None:
        log.warning("the database at %s cannot be reached yet (%s); trying again in %.1f s", where, reason, pause)

    try:
        pool = await connections.open_pool(dsn, max_size=max_size, wait=wait, on_retry=retrying)
    except DatabaseRefused as exc:
        raise StartupError(f"the database at {where} refused: {exc} (check DATABASE_URL)", SETTING) from None
    except DatabaseUnreachable as exc:
        raise StartupError(f"the database at {where} could not be reached within {wait:g} s "
                           f"(DATABASE_CONNECT_TIMEOUT_SECONDS): {exc}", UNAVAILABLE) from None
    stack.push_async_callback(pool.close)
    return pool
