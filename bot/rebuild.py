"""``conductor-e rebuild-projections``: recompute every document from the event log."""

from __future__ import annotations

from contextlib import AsyncExitStack

from eventstore.postgres.rebuild import rebuild_documents
from eventstore.projections.projector import DOCUMENT_TYPES, RigProjector

from .database import open_pool, resolve_dsn
from .settings import Settings


async def rebuild_projections(settings: Settings) -> int:
    async with AsyncExitStack() as stack:
        pool = await open_pool(stack, await resolve_dsn(settings), max_size=2,
                               wait=settings.database_connect_timeout_seconds)
        async with pool.acquire() as conn:
            return await rebuild_documents(conn, RigProjector(), DOCUMENT_TYPES)
