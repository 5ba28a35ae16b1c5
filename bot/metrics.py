"""The service's metrics in Prometheus' format (``GET /metrics``): one registry per ``Service``.

Three kinds of source, by how often they change:
- per request (HTTP requests), per appended event (events by type, rules' follow-ups) and per
  transaction (the append and decision histograms): plain counts in dicts and lists, a few
  additions each, handed to the registry by ``_Collector`` when Prometheus scrapes -- the append
  path has an instruction budget, and prometheus_client's Counter and Histogram take a lock and
  a few calls per update;
- rarer ones (claims, Discord posts): prometheus_client's own Counter;
- gauges (the writer's queue, the pool, the readers' lags): read at scrape time, never kept up to
  date on the hot path.
Counts are this process's own: with several processes on one database, sum them in Prometheus.
"""

from __future__ import annotations

import asyncio
from bisect import bisect_left
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from typing import Protocol

import prometheus_client
from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString

from eventstore.events import BY_ALIAS, FollowUp
from eventstore.ids import is_derived
from eventstore.store import RecordedEvent, StoreError
from eventstore.subscriptions import Lag

from .version import version

# Seconds: an append usually commits within milliseconds, a client gives up after 2 s, and a slow
# request body may take up to HTTP_TIMEOUT_SECONDS.
SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 500)  # the writer takes at most 500 appends at once
LAG_TIMEOUT = 1.0  # seconds a scrape waits for a reader's lag before leaving it out
UNMATCHED = "(unmatched)"  # the route of a request no route matched (404, 405)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# The types the rules append as follow-ups (the others carry no ``rule``).
_FOLLOW_UPS = frozenset(alias for alias, cls in BY_ALIAS.items() if issubclass(cls, FollowUp))
# Readers whose lag is reported, by the name runtime gives them, and the metric's stem.
_LAG_METRICS = {"delivery": "conductor_e_discord_delivery_lag", "valkey": "conductor_e_valkey_publish_lag"}


class PoolStats(Protocol):
    """What the metrics read of the database pool (asyncpg's ``Pool``)."""

    def get_size(self) -> int: ...

    def get_idle_size(self) -> int: ...

    def get_max_size(self) -> int: ...


class _Buckets:
    """A histogram's counts as plain numbers: ``observe`` is a bisect and two additions."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last one: above every bound
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1  # the first bound >= value: Prometheus' "le"
        self.total += value

    def cumulative(self) -> list[tuple[str, float]]:
        running, out = 0, list[tuple[str, float]]()
        for bound, count in zip((*self.bounds, float("inf")), self.counts, strict=True):
            running += count
            out.append((floatToGoString(bound), running))
        return out


class Metrics:
    """Every metric of one service. It is the store's ``WriteObserver``; the HTTP middleware,
    the claim route and the Discord poster count through it; ``watch`` names the gauges' sources."""

    def __init__(self, *, process: bool = True) -> None:
        """``process``: also the process's own metrics (CPU, memory, open files, GC)."""
        registry = self.registry = CollectorRegistry()
        self.claims = prometheus_client.Counter(
            "conductor_e_claims", "Claims of the next assignment (/api/assignments/next) by outcome: claimed (the "
            "queue's head handed out), held (the agent's own unfinished assignment again), none (204)",
            ["outcome"], registry=registry)
        for outcome in ("claimed", "held", "none"):
            self.claims.labels(outcome)
        self.discord_posted = prometheus_client.Counter(
            "conductor_e_discord_messages_posted", "Messages posted to Discord, into issue threads or the channel itself",
            ["target"], registry=registry)
        for target in ("thread", "channel"):
            self.discord_posted.labels(target)
        self._batch_size, self._batch_seconds = _Buckets(BATCH_SIZES), _Buckets(SECONDS)
        self._decision_seconds = _Buckets(SECONDS)
        self._events: dict[str, int] = dict.fromkeys(BY_ALIAS, 0)  # by stored alias
        self._rules: dict[str, int] = {}
        self._append_latency = _Buckets(SECONDS)  # per batch, its oldest append's wait
        self._requests: dict[tuple[object, str, int], int] = {}  # (handler or None if unmatched, method, status)
        self._routes: Mapping[object, str] = {}
        self._queue: Callable[[], int] | None = None
        self._pool: PoolStats | None = None
        self._lags: Mapping[str, Callable[[], Awaitable[Lag]]] = {}
        self._lag_values: dict[str, Lag] = {}
        registry.register(_Collector(self))
        if process:
            ProcessCollector(registry=registry)
            PlatformCollector(registry=registry)
            GCCollector(registry=registry)

    def watch(self, *, queue: Callable[[], int], pool: PoolStats,
              lags: Mapping[str, Callable[[], Awaitable[Lag]]]) -> None:
        """The gauges' sources: the writer's queue depth, the pool, and the readers' lags (by the
        names in ``_LAG_METRICS``: ``delivery`` for Discord, ``valkey``), each read at scrape time."""
        self._queue, self._pool, self._lags = queue, pool, lags

    def name_routes(self, routes: Mapping[object, str]) -> None:
        """Each route handler's canonical path (``/api/agents/{agent_id}``): the ``route`` label."""
        self._routes = routes

    # -- the store's WriteObserver ------------------------------------------------------------------

    def appended(self, recorded: Sequence[RecordedEvent], appends: int, oldest_wait: float, seconds: float) -> None:
        self._count(recorded)
        # _Buckets.observe three times, written out: this runs for every transaction of the writer.
        latency, size, batch = self._append_latency, self._batch_size, self._batch_seconds
        latency.counts[bisect_left(SECONDS, oldest_wait)] += 1
        latency.total += oldest_wait
        size.counts[bisect_left(BATCH_SIZES, appends)] += 1
        size.total += appends
        batch.counts[bisect_left(SECONDS, seconds)] += 1
        batch.total += seconds

    def decided(self, recorded: Sequence[RecordedEvent], seconds: float) -> None:
        self._count(recorded)
        self._decision_seconds.observe(seconds)

    def _count(self, recorded: Sequence[RecordedEvent]) -> None:
        events, follow_ups = self._events, _FOLLOW_UPS
        for rec in recorded:
            alias = rec.alias
            events[alias] += 1  # every alias the store writes is the catalogue's (all there from 0)
            if alias in follow_ups:
                rule = getattr(rec.model, "rule", None)
                # A rule's follow-up has an id derived from its cause, which no client may choose: a
                # client's own ``rule`` text never becomes a label (bounded cardinality).
                if rule and is_derived(rec.id):
                    self._rules[rule] = self._rules.get(rule, 0) + 1

    # -- HTTP ---------------------------------------------------------------------------------------

    def count_request(self, handler: object, method: str, status: int) -> None:
        """One answered request. ``handler``: the route's; one no route matched counts under
        ``UNMATCHED`` (its handler is made per request, and its method may be any token)."""
        key = (handler, method, status)
        try:
            self._requests[key] += 1
        except KeyError:  # a new key, or an unmatched request
            if handler not in self._routes:
                key = (None, method if method in _METHODS else "OTHER", status)
            self._requests[key] = self._requests.get(key, 0) + 1

    # -- the scrape ---------------------------------------------------------------------------------

    async def exposition(self, accept: str | None) -> tuple[bytes, str]:
        """The metrics (the body and its content type) in the format ``accept`` asks for: the
        Prometheus text format, or OpenMetrics. Lags are read first; one the database does not
        give within ``LAG_TIMEOUT`` is left out of this scrape."""
        values: dict[str, Lag] = {}
        for name, lag_of in self._lags.items():
            try:
                values[name] = await asyncio.wait_for(lag_of(), LAG_TIMEOUT)
            except (TimeoutError, StoreError):
                continue
        self._lag_values = values
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.registry), content_type

    def collect(self) -> Iterator[Metric]:
        events = CounterMetricFamily("conductor_e_events_appended", "Events this process appended, by type "
                                     "(retries answered from the store not counted)", labels=["type"])
        for alias, count in sorted(self._events.items()):
            known = BY_ALIAS.get(alias)
            events.add_metric([known.wire_name if known else alias.upper()], count)
        yield events
        rules = CounterMetricFamily("conductor_e_rule_follow_ups", "Events the rig's recovery rules appended, "
                                    "by rule", labels=["rule"])
        for rule, count in sorted(self._rules.items()):
            rules.add_metric([rule], count)
        yield rules
        yield CounterMetricFamily("conductor_e_gate_reminders", "Human-gate reminders appended (HUMAN_GATE_REMINDER)",
                                  value=self._events.get("human_gate_reminder", 0))
        yield _histogram("conductor_e_append_latency_seconds", "Per append transaction, the time from its oldest "
                         "append's arrival at the store to the commit, queue included: the longest any append "
                         "in it waited", self._append_latency)
        yield _histogram("conductor_e_append_batch_size", "Appends written per transaction by the store's "
                         "writer (group commit)", self._batch_size)
        yield _histogram("conductor_e_append_batch_seconds", "Time of one append transaction", self._batch_seconds)
        yield _histogram("conductor_e_decision_seconds", "Time of one serialised decision (claims, dispatch, "
                         "runs, the scheduler's rules), queue included", self._decision_seconds)
        yield from self._http()
        yield from self._gauges()

    def _http(self) -> Iterator[Metric]:
        requests = CounterMetricFamily("conductor_e_http_requests", "HTTP requests answered, by route (its "
                                       "canonical path), method and status", labels=["route", "method", "status"])
        for (handler, method, status), count in sorted(self._requests.items(), key=self._request_order):
            requests.add_metric([self._routes.get(handler, UNMATCHED), method, str(status)], count)
        yield requests

    def _request_order(self, item: tuple[tuple[object, str, int], int]) -> tuple[str, str, int]:
        (handler, method, status), _ = item
        return self._routes.get(handler, UNMATCHED), method, status

    def _gauges(self) -> Iterator[Metric]:
        if self._queue is not None:
            yield GaugeMetricFamily("conductor_e_writer_queue_depth", "Appends and decisions waiting for the "
                                    "store's writer (the transaction in flight not counted)", value=self._queue())
        if self._pool is not None:
            yield GaugeMetricFamily("conductor_e_db_pool_connections", "Connections the database pool holds",
                                    value=self._pool.get_size())
            yield GaugeMetricFamily("conductor_e_db_pool_idle_connections", "Connections of the pool not in use",
                                    value=self._pool.get_idle_size())
            yield GaugeMetricFamily("conductor_e_db_pool_max_connections", "The most connections the pool opens",
                                    value=self._pool.get_max_size())
        for name, lag in self._lag_values.items():
            stem = _LAG_METRICS.get(name)
            if stem is None:
                continue
            yield GaugeMetricFamily(f"{stem}_events", f"Events the {name} reader has yet to handle", value=lag.events)
            yield GaugeMetricFamily(f"{stem}_seconds", f"Age of the oldest event the {name} reader has yet to "
                                    "handle (0 when caught up)", value=lag.seconds)
        info = GaugeMetricFamily("conductor_e_build_info", "The running version (always 1)", labels=["version"])
        info.add_metric([version()], 1)
        yield info


def _histogram(name: str, documentation: str, buckets: _Buckets) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, documentation)
    family.add_metric([], buckets.cumulative(), buckets.total)
    return family


class _Collector:
    """Hands the registry what ``Metrics`` keeps as plain numbers, when it is scraped."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        return self._metrics.collect()

