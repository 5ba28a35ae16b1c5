"""The service under test, as it ships: ``conductor-e serve`` in its own process.

Started on a free 127.0.0.1 port against the DSN it is given, considered up when GET /health
answers 200, stopped with SIGTERM (its graceful path) and killed if it does not exit in time.
Its output goes to a log file in the run's temp dir, which is shown when start-up fails.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("bench")

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def service_command() -> list[str]:
    """``conductor-e`` from this interpreter's environment. ``CE_BENCH_SERVICE_CMD`` (a shell-style
    command line, e.g. ``python /tmp/patched_serve.py``) replaces it, for experiments on a variant."""
    override = os.environ.get("CE_BENCH_SERVICE_CMD", "").strip()
    if override:
        # the service runs in a temp dir: paths relative to the repo root are made absolute
        return [str(REPO / t) if not os.path.isabs(t) and (REPO / t).exists() else t for t in shlex.split(override)]
    script = Path(sys.executable).parent / "conductor-e"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from bot.cli import main; sys.exit(main(sys.argv[1:]))"]


@dataclass
class ServiceProcess:
    dsn: str
    workdir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    # what to run instead of ``conductor-e serve`` (``--host``/``--port`` are appended)
    command: list[str] | None = None
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, timeout: float = 120.0) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "CONDUCTOR_E_"))}
        env.update({
            "DATABASE_URL": self.dsn,
            "CONDUCTOR_E_DATA_DIR": str(self.workdir / "data"),
            "PYTHONUNBUFFERED": "1",
        })
        env.update(self.extra_env)
        self.log_path = self.workdir / f"service-{self.port}.log"
        cmd = [*(self.command or [*service_command(), "serve"]), "--host", "127.0.0.1", "--port", str(self.port)]
        with self.log_path.open("wb") as out:
            # a fork/exec before any load is applied: not worth a thread
            self.proc = subprocess.Popen(cmd, cwd=self.workdir, env=env, stdout=out,  # noqa: ASYNC220
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        t0 = time.perf_counter()
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the service exited with code {self.proc.returncode} during start-up:\n"
                                   + self.log_tail())
            if await asyncio.to_thread(self._healthy):
                log.info("%s up: pid %s on %s (%.1f s)", self.workdir.name, self.pid, self.base_url,
                         time.perf_counter() - t0)
                return
            if time.perf_counter() - t0 > timeout:
                await self.stop()
                raise RuntimeError(f"GET /health did not answer 200 within {timeout:.0f} s:\n" + self.log_tail())
            await asyncio.sleep(0.2)

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.base_url + "/health", timeout=2) as answer:
                return answer.status == 200
        except (urllib.error.URLError, OSError, ValueError):
            return False

    async def healthy(self) -> bool:
        return self.proc is not None and self.proc.poll() is None and await asyncio.to_thread(self._healthy)

    def log_tail(self, lines: int = 40) -> str:
        if self.log_path is None or not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    async def stop(self, timeout: float = 20.0) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(proc.wait, timeout)
        except subprocess.TimeoutExpired:
            log.warning("service pid %s ignored SIGTERM for %.0f s; killing it", proc.pid, timeout)
            proc.kill()
            await asyncio.to_thread(proc.wait)
