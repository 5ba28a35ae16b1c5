"""Closed-loop HTTP load: ``wrk`` with a Lua script when available, else the stdlib client.

Both post the bodies of one file, one per request, from ``clients`` keep-alive connections, each
sending its next request as soon as the previous answer arrived, and both report the same summary:
completed requests, elapsed time, errors and latency percentiles. wrk (C, epoll, LuaJIT) costs a
few percent of a core at these rates, so on a 2-core machine the service and PostgreSQL get the CPU.
Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("bench")

HERE = Path(__file__).resolve().parent
WRK_SCRIPT = HERE / "wrk_post.lua"
HTTPLOAD = HERE / "httpload.py"


def ensure_wrk(install: bool) -> str | None:
    """The wrk binary; installed with apt-get when missing and allowed (root, apt available)."""
    found = shutil.which("wrk")
    if found or not install:
        return found
    if not shutil.which("apt-get") or os.geteuid() != 0:
        return None
    log.info("wrk not found: trying apt-get install -y wrk")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for attempt in (["apt-get", "install", "-y", "-qq", "wrk"], ["apt-get", "update", "-qq"],
                    ["apt-get", "install", "-y", "-qq", "wrk"]):
        try:
            subprocess.run(attempt, check=False, env=env, timeout=300, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired):
            return None
        if shutil.which("wrk"):
            return shutil.which("wrk")
    return None


def _parse(stdout: str) -> dict[str, Any]:
    for line in stdout.splitlines():
        if line.startswith("BENCH_RESULT "):
            return json.loads(line[len("BENCH_RESULT "):])
    raise RuntimeError(f"the load generator printed no result:\n{stdout[-2000:]}")


def _normalise(raw: dict[str, Any]) -> dict[str, Any]:
    requests = int(raw["requests"])
    seconds = raw["duration_us"] / 1e6
    errors = int(raw.get("err_connect", 0) + raw.get("err_read", 0) + raw.get("err_write", 0)
                 + raw.get("err_timeout", 0))
    non_2xx = int(raw.get("err_status", 0))
    ok = requests - non_2xx
    out = {
        "events_per_s": ok / seconds if seconds > 0 else 0.0,
        "requests": requests,
        "ok": ok,
        "non_2xx": non_2xx,
        "socket_errors": errors,
        "seconds": seconds,
        "p50_ms": raw["p50_us"] / 1e3,
        "p90_ms": raw["p90_us"] / 1e3,
        "p99_ms": raw["p99_us"] / 1e3,
        "p999_ms": raw["p999_us"] / 1e3,
        "max_ms": raw["max_us"] / 1e3,
        "mean_ms": raw["mean_us"] / 1e3,
    }
    if "status" in raw:
        out["status"] = raw["status"]
    return out


@dataclass
class LoadGen:
    kind: str  # "wrk" or "python"
    wrk: str | None = None
    wrk_threads: int = 1

    @classmethod
    def choose(cls, preference: str, install: bool = True, wrk_threads: int = 1) -> LoadGen:
        if preference in ("auto", "wrk"):
            path = ensure_wrk(install)
            if path:
                return cls("wrk", path, wrk_threads)
            if preference == "wrk":
                raise RuntimeError("wrk was asked for but is not installed and could not be installed")
            log.warning("wrk unavailable: falling back to the Python load client (bench/harness/httpload.py)")
        return cls("python")

    def describe(self) -> str:
        if self.kind == "wrk":
            version = subprocess.run([self.wrk or "wrk", "-v"], capture_output=True, text=True).stdout
            first = (version.strip().splitlines() or ["wrk"])[0]
            return f"{first} ({self.wrk_threads} thread(s)), script bench/harness/wrk_post.lua"
        return "bench/harness/httpload.py (asyncio streams, one process)"

    async def run(self, port: int, clients: int, duration: float, bodies: Path, offset: int = 0) -> dict[str, Any]:
        if self.kind == "wrk":
            threads = max(1, min(self.wrk_threads, clients))
            seconds = max(1, math.ceil(duration))
            cmd = [self.wrk or "wrk", f"-t{threads}", f"-c{clients}", f"-d{seconds}s", "--timeout", "10s",
                   "-s", str(WRK_SCRIPT), f"http://127.0.0.1:{port}", "--", str(bodies), str(threads), str(offset)]
        else:
            cmd = [sys.executable, str(HTTPLOAD), "--port", str(port), "--clients", str(clients),
                   "--duration", str(duration), "--bodies", str(bodies), "--offset", str(offset)]
        return _normalise(await _exec(cmd))

    async def send_once(self, port: int, bodies: Path, clients: int = 8) -> dict[str, Any]:
        """Every body exactly once (seeding); always the Python client, whose answers are counted."""
        cmd = [sys.executable, str(HTTPLOAD), "--port", str(port), "--clients", str(clients),
               "--bodies", str(bodies), "--once"]
        return _normalise(await _exec(cmd))


async def _exec(cmd: list[str]) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(*cmd, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE, stdin=asyncio.subprocess.DEVNULL)
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} exited with {proc.returncode}: {err.decode(errors='replace')[-2000:]}")
    return _parse(out.decode(errors="replace"))
