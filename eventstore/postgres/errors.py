"""asyncpg's errors as the store's own (``eventstore.store``): the one translation, so no driver
error leaks past the adapter and every caller meets the same three outcomes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import asyncpg

from ..store import StoreUnavailable, Unstorable

# The database could not be reached or did not answer: worth retrying later (503).
CONNECTION_ERRORS = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
)


@contextlib.contextmanager
def store_errors() -> Iterator[None]:
    """Connection failures become StoreUnavailable; data the database refuses itself (SQLSTATE
    class 22, which no retry can fix) becomes Unstorable."""
    try:
        yield
    except CONNECTION_ERRORS as exc:
        raise StoreUnavailable(f"database unavailable: {exc}") from exc
    except asyncpg.DataError as exc:
        raise Unstorable(f"the database refuses this: {exc}") from exc
