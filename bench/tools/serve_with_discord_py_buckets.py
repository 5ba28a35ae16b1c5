"""``conductor-e`` with discord.py's own rate-limit bucket sweep, not ours (bot/discord/ratelimits.py).

The baseline of the scale scenario's Discord catch-up (bench/scenarios/scale_discord.py runs it):

    .venv/bin/python bench/tools/serve_with_discord_py_buckets.py serve --host 127.0.0.1 --port 8080

In this process only, the bot is built without ``bound_bucket_sweeps``, so discord.py scans every
bucket each time it makes one (past 256) and keeps each for 300 s: thread creation slows as the
threads, and their buckets, pile up.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import bot.discord.client  # noqa: E402


def _leave_discord_py_alone(http: Any) -> None:
    return None


bot.discord.client.bound_bucket_sweeps = _leave_discord_py_alone  # type: ignore[assignment]

from bot.cli import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
