"""APScheduler only triggers: one job, ``tick``, every ``tick_seconds``, asks the store what is due.

Each tick runs the no-heartbeat rule over every assignment, appends the gate reminders that are
due (``eventstore.conductor``) and, with a dispatcher, hands queued work to its idle agents. What
is due is decided from the store and the rig's clock, never from jobs kept in memory, so gates
opened by another process or before a restart get their reminders, a closed gate simply has none
due, and two processes never repeat one (the ids derive from the gate and the interval). A
reminder is late by at most one tick. Each tick also deletes the agent logs past their retention
(``AgentLogs.prune``, a bounded amount per tick) and, with ``DIGEST_TIME``, records the daily
digest once its time has come (``eventstore.digest``: once per day, whichever process or restart
gets there first; the notifier posts it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, time, timedelta, timezone
from typing import Any

from apscheduler.events import EVENT_JOB_ERROR, JobExecutionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from eventstore.agent_logs import AgentLogs
from eventstore.conductor import detect_silent_assignees, remind_open_gates
from eventstore.digest import digest_due, record_digest
from eventstore.read_models import ReadModels
from eventstore.store import EventStore, StoreUnavailable

from .clock import Clock

log = logging.getLogger(__name__)

SHUTDOWN_WAIT = 5.0  # seconds a tick in flight may take to finish when the service stops


def tick_seconds(heartbeat_timeout: timedelta, reminder_interval: timedelta) -> float:
    """A tenth of the shorter of the two periods, between 1 and 30 s."""
    shortest = min(heartbeat_timeout, reminder_interval).total_seconds()
    return max(1.0, min(30.0, shortest / 10))


class RigScheduler:
    def __init__(self, store: EventStore, clock: Clock, *, heartbeat_timeout: timedelta,
                 reminder_interval: timedelta, agent_logs: AgentLogs | None = None,
                 log_retention: timedelta = timedelta(days=7),
                 report: Callable[[str, str | None], None] = lambda state, detail: None,
                 dispatch: Callable[[], Awaitable[int]] | None = None,
                 read_models: ReadModels | None = None, digest_at: time | None = None) -> None:
        """``dispatch``: the dispatcher's backstop (``Dispatcher.tick``), run at every tick when given.
        ``digest_at``: the UTC time of the daily digest (None: none), read through ``read_models``."""
        self._store = store
        self._read_models = read_models
        self._digest_at = digest_at
        self._digest_done: datetime | None = None  # the end of the latest day found recorded
        self._dispatch = dispatch
        self._agent_logs = agent_logs
        self._log_retention = log_retention
        self._clock = clock
        self._heartbeat_timeout = heartbeat_timeout
        self._reminder_interval = reminder_interval
        self._report = report
        self._scheduler = AsyncIOScheduler(timezone=timezone.utc)
        self._ticking: asyncio.Task[Any] | None = None

    def start(self) -> None:
        every = tick_seconds(self._heartbeat_timeout, self._reminder_interval)
        self._scheduler.add_job(self.tick, IntervalTrigger(seconds=every), id="tick",
                                next_run_time=datetime.now(timezone.utc), coalesce=True, max_instances=1)
        # APScheduler keeps running whatever a job raises; its outcome is what /health shows.
        self._scheduler.add_listener(self._job_ran, EVENT_JOB_ERROR)
        self._scheduler.start()
        self._report("running", None)

    async def shutdown(self) -> None:
        """No more ticks; one in flight finishes first (for at most SHUTDOWN_WAIT): APScheduler's
        shutdown would cancel it halfway, and the store and the pool close right after."""
        if not self._scheduler.running:
            return
        self._scheduler.pause()
        ticking = self._ticking
        if ticking is not None and not ticking.done():
            await asyncio.wait([ticking], timeout=SHUTDOWN_WAIT)
        self._scheduler.shutdown(wait=False)

    async def tick(self) -> None:
        """The no-heartbeat rule, then the reminders due, then agent logs' retention; skipped (and
        reported) while the database is unavailable, and tried again at the next tick."""
        self._ticking = asyncio.current_task()
        try:
            await self._tick()
        finally:
            self._ticking = None

    async def _tick(self) -> None:
        now = self._clock()
        try:
            stuck = await detect_silent_assignees(self._store, now, self._heartbeat_timeout)
            recorded = await remind_open_gates(self._store, now, self._reminder_interval)
            if self._dispatch is not None:
                await self._dispatch()
            if self._agent_logs is not None:  # bounded work per tick: the next tick goes on
                pruned = await self._agent_logs.prune(now - self._log_retention)
                if pruned:
                    log.info("agent logs: %d entries older than %s deleted", pruned, self._log_retention)
            await self._digest(now)
        except StoreUnavailable as exc:
            self._skipped(exc)
            return
        if stuck:
            log.info("no-heartbeat rule: %d agent(s) reported stuck", stuck)
        for rec in recorded:
            log.info("gate reminder for %s", rec.stream_id)
        self._report("running", None)

    async def _digest(self, now: datetime) -> None:
        if self._digest_at is None or self._read_models is None:
            return
        due = digest_due(now, self._digest_at)
        if due is None or due == self._digest_done:
            return  # nothing due, or already found recorded: no query at all
        if await record_digest(self._store, self._read_models, due) is not None:
            log.info("daily digest recorded for the day to %s", due.isoformat())
        self._digest_done = due

    def _job_ran(self, event: JobExecutionEvent) -> None:  # a bug in a tick: it is tried again at the next
        self._report("degraded", f"job {event.job_id} failed: {type(event.exception).__name__}: "
                                 f"{event.exception}"[:300])

    def _skipped(self, exc: Exception) -> None:
        log.warning("scheduler tick skipped: %s", exc)
        self._report("degraded", f"tick skipped: {exc}"[:300])
