"""discord.py's rate-limit buckets are swept in amortised constant time, and a bucket that holds a
limit in force is never dropped (bot/discord/ratelimits.py), on discord.py's own HTTPClient."""

from __future__ import annotations

import asyncio

from discord.http import HTTPClient

from bot.discord.ratelimits import SWEEP_FLOOR, BucketSweep, bound_bucket_sweeps


def _client() -> tuple[HTTPClient, BucketSweep]:
    http = HTTPClient(asyncio.get_running_loop())
    sweep = bound_bucket_sweeps(http)
    assert sweep is not None
    return http, sweep


def _thread_key(n: int) -> str:
    return f"POST /channels/{{channel_id}}/messages:{10**17 + n}"  # one per thread, as discord.py keys them


async def test_a_bucket_per_thread_costs_constant_work_and_memory() -> None:
    http, sweep = _client()
    made = 30_000
    for n in range(made):
        http.get_ratelimit(_thread_key(n))  # what every request does first
        assert len(http._buckets) <= 2 * SWEEP_FLOOR
    # discord.py's own sweep scans every bucket for each new one past 256: ~450 million here.
    assert sweep.scanned <= 2 * made
    assert sweep.sweeps >= made // (2 * SWEEP_FLOOR)


async def test_buckets_holding_a_limit_are_kept() -> None:
    http, sweep = _client()
    loop = asyncio.get_running_loop()
    exhausted = http.get_ratelimit("exhausted")
    exhausted.remaining, exhausted.expires = 0, loop.time() + 60  # Discord said: nothing left for a minute
    in_use = http.get_ratelimit("in use")
    in_use.outgoing = 1
    waited_on = http.get_ratelimit("waited on")
    waited_on._pending_requests.append(loop.create_future())
    over = http.get_ratelimit("window over")
    over.remaining, over.expires = 0, loop.time() - 1
    for n in range(4 * SWEEP_FLOOR):
        http.get_ratelimit(_thread_key(n))
    assert sweep.sweeps >= 1
    assert {"exhausted", "in use", "waited on"} <= set(http._buckets)
    assert "window over" not in http._buckets  # discord.py would reset it on its next request anyway
    assert http.get_ratelimit("exhausted") is exhausted
