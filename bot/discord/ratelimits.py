"""discord.py's rate-limit buckets, swept in amortised constant time.

discord.py's ``HTTPClient`` keeps one ``Ratelimit`` per bucket and major parameter, so one per
channel a route is used on: every issue thread gets its own (``POST /channels/{thread}/messages``).
Once the dict holds 256, every request that makes a new bucket scans all of them
(``_try_clear_expired_ratelimits``), and a bucket leaves only after 300 s unused. Catching up on
30,000 issues creates a thread, so a bucket, per issue within minutes: each new one then costs a scan
of tens of thousands (~7 ms at 30,000, measured in bench/), and thread creation slows to a crawl as
the dict grows (BENCHMARKS.md, "Discord catch-up").

``bound_bucket_sweeps`` replaces that scan on one client with one that runs only when the dict has
doubled since the last (amortised constant work per new bucket) and keeps only the buckets that
hold a limit in force: a request outgoing or waiting, or a window with nothing remaining that has
not expired yet. Any other bucket is one discord.py would make again as it is on the next request
to its route (one request, then the answer's headers set the limit), so dropping it loses nothing;
keeping the exhausted ones means no request goes out that discord.py would have held back.
"""

from __future__ import annotations

import logging

from discord.http import HTTPClient, Ratelimit

log = logging.getLogger(__name__)

SWEEP_FLOOR = 256  # discord.py's own threshold: below it nothing is ever swept


def holds_a_limit(bucket: Ratelimit) -> bool:
    """Whether dropping ``bucket`` (a discord.py ``Ratelimit``) could let a request out early."""
    if bucket.outgoing or bucket._pending_requests or bucket._sleeping.locked():
        return True
    return bucket.remaining <= 0 and bucket.expires is not None and not bucket.is_expired()


class BucketSweep:
    """Stands in for ``HTTPClient._try_clear_expired_ratelimits``, which discord.py calls each time
    it makes a bucket."""

    def __init__(self, buckets: dict[str, Ratelimit], floor: int = SWEEP_FLOOR) -> None:
        self._buckets = buckets
        self._floor = floor
        self._next = floor
        self.sweeps = 0  # how many times the dict was scanned
        self.scanned = 0  # buckets looked at in all

    def __call__(self) -> None:
        buckets = self._buckets
        if len(buckets) < self._next:
            return
        self.sweeps += 1
        self.scanned += len(buckets)
        for key in [key for key, bucket in buckets.items() if not holds_a_limit(bucket)]:
            del buckets[key]
        # The next scan waits until the dict has doubled: each scan is paid for by the buckets
        # made since the last, however many are kept.
        self._next = max(self._floor, 2 * len(buckets))


def bound_bucket_sweeps(http: HTTPClient) -> BucketSweep | None:
    """Install a ``BucketSweep`` on ``http``; None, leaving it as it is,
    when this discord.py does not have the dict and the method it replaces."""
    buckets = getattr(http, "_buckets", None)
    if not isinstance(buckets, dict) or not callable(getattr(http, "_try_clear_expired_ratelimits", None)):
        log.warning("discord.py's HTTPClient has no _buckets/_try_clear_expired_ratelimits: its own "
                    "rate-limit bucket sweep stays (it slows down as threads pile up)")
        return None
    sweep = BucketSweep(buckets)
    # An instance attribute shadows the method: discord.py calls self._try_clear_expired_ratelimits().
    http._try_clear_expired_ratelimits = sweep  # type: ignore[method-assign]
    return sweep
