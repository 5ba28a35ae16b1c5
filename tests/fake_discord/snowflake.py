"""Realistic Discord snowflakes and timestamps.

discord.py derives ``created_at`` (and parts of its rate-limit logic, e.g. the
old-message bulk-delete rule) from the millisecond timestamp inside an id, so
ids must be real snowflakes rather than small integers.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

DISCORD_EPOCH_MS = 1_420_070_400_000  # 2015-01-01T00:00:00Z


class SnowflakeFactory:
    """Hands out unique, strictly increasing snowflakes as strings.

    Increasing order matters: Discord (and discord.py's history helpers) sort
    messages by id, so a later message must always get a larger id even when
    two are created in the same millisecond.
    """

    def __init__(self, worker_id: int = 1, process_id: int = 0) -> None:
        self._worker_id = worker_id & 0x1F
        self._process_id = process_id & 0x1F
        self._last = 0

    def next(self) -> str:
        ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        candidate = (ms << 22) | (self._worker_id << 17) | (self._process_id << 12)
        # Same millisecond (or a clock step back): bump the increment bits.
        value = max(candidate, self._last + 1)
        self._last = value
        return str(value)


def snowflake_time(snowflake: str | int) -> datetime:
    """The UTC creation time encoded in a snowflake."""
    ms = (int(snowflake) >> 22) + DISCORD_EPOCH_MS
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def iso_from_snowflake(snowflake: str | int) -> str:
    """ISO-8601 timestamp as Discord sends it (``+00:00`` offset)."""
    return snowflake_time(snowflake).isoformat()


def iso_now() -> str:
    return datetime.now(tz=timezone.utc).isoformat()
