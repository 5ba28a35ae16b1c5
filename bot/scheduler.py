"""APScheduler jobs: only triggers. What is due is decided from the store at each run.

- ``no-heartbeat``: every ``silence_check`` seconds, the no-heartbeat rule over all assignments.
- ``gate-sync``: keeps one date job per open gate, due at its next reminder; rebuilt from the
  store at start-up and every ``gate_sync`` seconds, so gates opened by another process or
  before a restart get their reminders, and a closed gate's job simply finds nothing due.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from eventstore.conductor import (
    detect_silent_assignees,
    next_reminder_due,
    remind_open_gates,
)
from eventstore.read_models import ReadModels
from eventstore.store import EventStore, StoreUnavailable

from .clock import Clock

log = logging.getLogger(__name__)


def _scheduler_now() -> datetime:
    """APScheduler's own time base (the wall clock), used only to place triggers."""
    return datetime.now(timezone.utc)


class RigScheduler:
    def __init__(self, store: EventStore, read_models: ReadModels, clock: Clock, *,
                 heartbeat_timeout: timedelta, reminder_interval: timedelta,
                 report: Callable[[str, str | None], None] = lambda state, detail: None) -> None:
        self._report = report
        self._store = store
        self._read_models = read_models
        self._clock = clock
        self._heartbeat_timeout = heartbeat_timeout
        self._reminder_interval = reminder_interval
        self._scheduler = AsyncIOScheduler(timezone=timezone.utc)

    def start(self) -> None:
        silence_check = max(1.0, min(30.0, self._heartbeat_timeout.total_seconds() / 4))
        gate_sync = max(1.0, min(30.0, self._reminder_interval.total_seconds()))
        now = _scheduler_now()
        self._scheduler.add_job(self.check_silence, IntervalTrigger(seconds=silence_check), id="no-heartbeat",
                                next_run_time=now, coalesce=True, max_instances=1)
        self._scheduler.add_job(self.sync_gates, IntervalTrigger(seconds=gate_sync), id="gate-sync",
                                next_run_time=now, coalesce=True, max_instances=1)
        # APScheduler keeps running whatever a job raises; its outcome is what /health shows.
        self._scheduler.add_listener(self._job_ran, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
        self._scheduler.start()
        self._report("running", None)

    def _job_ran(self, event: JobExecutionEvent) -> None:
        if event.exception is not None:
            self._report("degraded", f"job {event.job_id} failed: {type(event.exception).__name__}: "
                                     f"{event.exception}"[:300])
        else:
            self._report("running", None)

    def _skipped(self, job: str, exc: Exception) -> None:
        log.warning("%s skipped: %s", job, exc)
        self._report("degraded", f"{job} skipped: {exc}"[:300])

    def shutdown(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    def scheduled_reminders(self) -> dict[str, datetime]:
        """Issue stream id -> when its gate's next reminder job runs (wall clock)."""
        prefix = "gate-reminder:"
        return {job.id[len(prefix):]: job.next_run_time for job in self._scheduler.get_jobs()
                if job.id.startswith(prefix)}

    async def check_silence(self) -> None:
        try:
            count = await detect_silent_assignees(self._store, self._clock(), self._heartbeat_timeout)
        except StoreUnavailable as exc:
            self._skipped("no-heartbeat check", exc)
            return
        if count:
            log.info("no-heartbeat rule: %d agent(s) reported stuck", count)

    async def remind(self) -> None:
        try:
            recorded = await remind_open_gates(self._store, self._clock(), self._reminder_interval)
        except StoreUnavailable as exc:
            self._skipped("gate reminders", exc)
            return
        for rec in recorded:
            log.info("gate reminder for %s", rec.stream_id)
        await self.sync_gates()

    async def sync_gates(self) -> None:
        """One date job per open gate, at its next reminder (replacing any earlier schedule)."""
        try:
            gates = await self._read_models.open_gates()
        except StoreUnavailable as exc:
            self._skipped("gate sync", exc)
            return
        wanted = set()
        now, scheduler_now = self._clock(), _scheduler_now()
        for issue in gates:
            due = next_reminder_due(issue, self._reminder_interval)
            if due is None:
                continue
            # APScheduler runs on the wall clock; the rig's clock may be another (tests): keep the delay.
            run_at = scheduler_now + max(due - now, timedelta(0))
            job_id = f"gate-reminder:{issue.id}"
            wanted.add(job_id)
            self._scheduler.add_job(self.remind, DateTrigger(run_date=run_at), id=job_id, replace_existing=True,
                                    misfire_grace_time=None, coalesce=True)
        for job in self._scheduler.get_jobs():
            if job.id.startswith("gate-reminder:") and job.id not in wanted:
                job.remove()
