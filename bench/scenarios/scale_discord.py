"""The scale scenario's Discord cell: the notifier catching up on N issues that have no thread yet.

A database of its own holds N ISSUE_APPROVED events (loaded as the sizes are, see scale_load.py);
the service then starts with the real discord.py bot against the test suite's fake Discord
(``tests/fake_discord``, in this process, as the discord_latency scenario runs it), and its notifier,
reading the log from the start, opens one thread per issue and posts its first message. The fake
timestamps each thread as it is created, so the rate can be read per tenth of the threads: early
(the median of the first three tenths) against late (of the last three). Run twice: the service as it ships, and with discord.py's own bucket sweep
(``bench/tools/serve_with_discord_py_buckets.py``), which makes the rate fall as threads pile up.
"""

from __future__ import annotations

import logging
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from ..harness.runner import Harness
from ..harness.service import service_command
from .scale_load import load
from .scale_probes import rebuild, rss_mb

log = logging.getLogger("bench")

WITHOUT_SWEEP = Path(__file__).resolve().parents[1] / "tools" / "serve_with_discord_py_buckets.py"
SLICES = 10
EDGE = 3  # early: the median rate of the first EDGE tenths; late: of the last EDGE (one tenth alone is noisy)


class Approvals:
    """N ISSUE_APPROVED bodies, one per issue, over four repos."""

    def __init__(self) -> None:
        self.n = 0

    def next_body(self) -> str:
        self.n += 1
        repo = ("acme/app", "acme/api", "acme/web", "acme/infra")[self.n % 4]
        return (f'{{"type":"ISSUE_APPROVED","repo":"{repo}","issueNumber":{self.n},'
                f'"title":"feat: issue {self.n} waiting for its thread","priority":"normal"}}')


class Arrivals:
    """When each thread was created and how many messages arrived, as the fake's REST handlers see it."""

    def __init__(self, fake: Any) -> None:
        self.threads: list[float] = []
        self.messages = 0
        state = fake.state
        create_thread, add_message = state.create_thread, state.add_message

        def timed_create_thread(**kw: Any) -> Any:
            self.threads.append(time.perf_counter())
            return create_thread(**kw)

        def counted_add_message(channel_id: str, body: Any, **kw: Any) -> Any:
            self.messages += 1
            return add_message(channel_id, body, **kw)

        state.create_thread = timed_create_thread
        state.add_message = counted_add_message


def rates(times: list[float], slices: int = SLICES) -> list[float]:
    """Threads per second in each of ``slices`` equal runs of consecutive threads."""
    size = len(times) // slices
    if size < 2:
        return []
    return [(size - 1) / max(1e-9, times[(i + 1) * size - 1] - times[i * size]) for i in range(slices)]


async def catch_up(h: Harness, threads: int, *, shipped: bool, timeout: float) -> dict[str, Any]:
    from tests.fake_discord import GATE_ROLE, FakeDiscord

    dsn = await h.postgres.create_database("ce_bench_scale_discord")
    await load(dsn, Approvals(), threads, h.options.scale_load)
    await rebuild(dsn)
    fake = await FakeDiscord(token="bench-token", dispatch_messages=False).start()
    arrivals = Arrivals(fake)
    env = {"DISCORD_TOKEN": "bench-token", "DISCORD_CHANNEL_ID": fake.channel_id, "DISCORD_GUILD_ID": fake.guild_id,
           "DISCORD_GATE_ROLE_ID": str(fake.role(GATE_ROLE).id), "DISCORD_API_BASE_URL": fake.api_base,
           "DISCORD_GATEWAY_URL": fake.gateway_url}
    command = None if shipped else [sys.executable, str(WITHOUT_SWEEP), "serve"]
    name = f"scale-discord-{'shipped' if shipped else 'discord-py'}"
    service = await h.start_service(dsn, extra_env=env, name=name, command=command)
    started = time.perf_counter()
    complete = True
    try:
        try:
            await fake.wait_for(lambda: arrivals.messages >= threads, timeout=timeout, what=f"{threads} messages")
        except TimeoutError:
            complete = False
            log.warning("Discord catch-up: %d of %d threads within %.0f s", len(arrivals.threads), threads, timeout)
        rss = rss_mb(service.pid)
    finally:
        await service.stop()
        h.services.remove(service)
        await fake.stop()
    times = arrivals.threads
    per_slice = rates(times)
    early = statistics.median(per_slice[:EDGE]) if per_slice else 0.0
    late = statistics.median(per_slice[-EDGE:]) if per_slice else 0.0
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    return {
        "threads": len(times), "messages": arrivals.messages, "complete": complete,
        "seconds": time.perf_counter() - started, "threads_span_s": span,
        "threads_per_s": (len(times) - 1) / span if span else 0.0,
        "early_threads_per_s": early, "late_threads_per_s": late, "late_vs_early": late / early if early else 0.0,
        "slice_threads_per_s": per_slice, "service_rss_mb": rss,
        "service": "as shipped" if shipped else "discord.py's own bucket sweep",
        "command": " ".join(command or [*service_command(), "serve"]),
    }
