"""The static checks run inside the suite, so the README's test command (and so CI) runs them:
the layers contracts (import-linter, pyproject.toml), the type annotations (mypy) and ruff."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


@pytest.mark.parametrize("command", [
    [str(BIN / "lint-imports")],
    [sys.executable, "-m", "mypy"],
    [sys.executable, "-m", "ruff", "check", "."],
], ids=["import-linter", "mypy", "ruff"])
def test_static_check_passes(command: list[str]) -> None:
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
