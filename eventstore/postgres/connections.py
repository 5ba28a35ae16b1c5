"""Opening connections to PostgreSQL: the pool, and single connections of their own.

Every wait is bounded, so that a stalled server (one that neither answers nor refuses) cannot hold
a request past an agent's 2 s timeout or a part of the process for ever.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg

from .schema import migrate
from .store import init_connection

CONNECT_TIMEOUT = 5.0  # seconds to open a connection
COMMAND_TIMEOUT = 30.0  # seconds for one statement on a pooled connection (a long one is a stall)
FIRST_RETRY, LAST_RETRY = 0.5, 8.0  # seconds between tries while the server is not there yet

Pool = asyncpg.Pool  # for type annotations at the edges, which do not import the driver
Connector = Callable[[], Awaitable[asyncpg.Connection]]
RetryReport = Callable[[str, float], None]  # (why the try failed, seconds until the next)

# The server is not there yet or not ready (a compose or Kubernetes start order, a restart): wait.
# Anything else it answers (a wrong password, no such database, a malformed DSN) is a setting.
_NOT_YET = (OSError, asyncio.TimeoutError, asyncpg.PostgresConnectionError, asyncpg.CannotConnectNowError,
            asyncpg.TooManyConnectionsError)


class DatabaseRefused(Exception):
    """The server answered and refused (the DSN, the credentials, the database, its rights): a
    setting to fix, which no retry can."""


class DatabaseUnreachable(Exception):
    """No server answered within the time allowed."""


async def open_pool(dsn: str, *, max_size: int = 10, wait: float = 0.0,
                    on_retry: RetryReport | None = None) -> asyncpg.Pool:
    """A pool on ``dsn`` with the schema migrated; the caller closes it.

    While the server cannot be reached, tries again for up to ``wait`` seconds with a doubling
    pause (``on_retry`` is told each one); then DatabaseUnreachable. DatabaseRefused at once when
    the server refuses."""
    deadline, pause = time.monotonic() + wait, FIRST_RETRY
    while True:
        left = deadline - time.monotonic()
        try:
            pool = await asyncpg.create_pool(dsn, init=init_connection, min_size=2, max_size=max_size,
                                             timeout=min(CONNECT_TIMEOUT, max(left, 1.0)),
                                             command_timeout=COMMAND_TIMEOUT)
            break
        except _NOT_YET as exc:
            left = deadline - time.monotonic()
            if left <= 0:
                raise DatabaseUnreachable(describe(exc, dsn)) from None
            pause = min(pause, left)
            if on_retry is not None:
                on_retry(describe(exc, dsn), pause)
            await asyncio.sleep(pause)
            pause = min(pause * 2, LAST_RETRY)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, ValueError) as exc:
            raise DatabaseRefused(describe(exc, dsn)) from None
    try:
        async with pool.acquire() as conn:
            await migrate(conn)
    except _NOT_YET as exc:
        await pool.close()
        raise DatabaseUnreachable(describe(exc, dsn)) from None
    except asyncpg.PostgresError as exc:
        await pool.close()
        raise DatabaseRefused(f"setting up the schema failed: {describe(exc, dsn)}") from None
    except BaseException:
        await pool.close()
        raise
    return pool


def connector(dsn: str) -> Connector:
    """Opens a connection of its own on ``dsn`` (for LISTEN, a lease or a liveness ping)."""
    return lambda: asyncpg.connect(dsn, timeout=CONNECT_TIMEOUT)


def describe(exc: BaseException, dsn: str) -> str:
    """``exc`` as one short line, never holding ``dsn``'s password."""
    text = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
    password = _password(dsn)
    return text.replace(password, "***") if password else text


def safe_dsn(dsn: str) -> str:
    """``dsn`` without its password, for the log and error messages."""
    try:
        parts = urlsplit(dsn)
        netloc = parts.netloc.rpartition("@")
        host = f"{netloc[0].partition(':')[0]}@{netloc[2]}" if netloc[1] else netloc[2]
        query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k != "password"], safe="/")
        return urlunsplit((parts.scheme, host, parts.path, query, parts.fragment))
    except ValueError:
        return "(a DATABASE_URL that cannot be parsed)"


def _password(dsn: str) -> str | None:
    try:
        parts = urlsplit(dsn)
        return parts.password or dict(parse_qsl(parts.query)).get("password")
    except ValueError:
        return None
