"""The daily digest: what the rig did in a day, compiled by a pure function from the typed reads
(``ReadModels.activity`` and ``cost_between``), recorded once per day as DIGEST_COMPILED.

The scheduler's tick asks what is due (``digest_due``) and records it (``record_digest``) under an
id derived from the day, so a digest is stored once whatever restarts or second processes do, and
the Discord notifier posts it in the issue channel exactly as it posts everything else (retried
through outages, once per event). ``/digest`` compiles the same figures for the last 24 hours.
"""

from __future__ import annotations

import statistics
import uuid
from collections.abc import Sequence
from datetime import datetime, time, timedelta, timezone

from . import events as ev
from .activity import Activity, CostBreakdown
from .ids import derived_event_id
from .read_models import ReadModels
from .stats import CostStat
from .store import EventStore, PendingEvent, RecordedEvent, UnitOfWork

PERIOD = timedelta(days=1)
# A digest whose time passed longer ago than this (the service was down then) is not made late:
# the next one comes at its time, instead of yesterday's arriving shortly before today's.
GRACE = timedelta(hours=12)
LISTED = 10  # issues named in a list; the rest are counted
COST_LINES = 10  # agents and repos named in the cost; the rest are in the total


def compile_digest(activity: Activity, cost: CostBreakdown, start: datetime, end: datetime) -> ev.DigestCompiled:
    """The digest of the period from ``start`` to ``end``. Pure."""
    merge_times = [m.time_to_merge for m in activity.merges if m.time_to_merge is not None]
    waits = [d.wait for d in activity.decisions if d.wait is not None]
    return ev.DigestCompiled(
        period_start=start, period_end=end,
        done=activity.done[:LISTED], done_count=len(activity.done),
        escalated=activity.escalated[:LISTED], escalated_count=len(activity.escalated),
        stuck_reports=activity.stuck_reports,
        merged_count=len(activity.merges), median_merge_minutes=_median_minutes(merge_times),
        gates_approved=sum(d.approved for d in activity.decisions),
        gates_rejected=sum(not d.approved for d in activity.decisions),
        median_gate_wait_minutes=_median_minutes(waits),
        cost_usd=round(sum(c.cost_usd for c in cost.by_agent), 6),
        cost_by_agent=_shares(cost.by_agent), cost_by_repo=_shares(cost.by_repo),
    )


def _median_minutes(durations: Sequence[timedelta]) -> float | None:
    if not durations:
        return None
    return round(max(statistics.median(d.total_seconds() for d in durations), 0.0) / 60, 1)


def _shares(stats: Sequence[CostStat]) -> list[ev.CostShare]:
    return [ev.CostShare(key=s.key, cost_usd=round(s.cost_usd, 6), input_tokens=s.input_tokens,
                         output_tokens=s.output_tokens, turns=s.turns) for s in stats[:COST_LINES]]


async def digest_between(reads: ReadModels, start: datetime, end: datetime) -> ev.DigestCompiled:
    """The digest of any period (``/digest``: the last 24 hours)."""
    return compile_digest(await reads.activity(start, end), await reads.cost_between(start, end), start, end)


def digest_due(now: datetime, at: time) -> datetime | None:
    """When the latest digest due at ``now`` ended its day: today at ``at`` (UTC), or yesterday's
    before that; None when that was more than GRACE ago."""
    now = now.astimezone(timezone.utc)
    due = datetime.combine(now.date(), at.replace(tzinfo=None), tzinfo=timezone.utc)
    if due > now:
        due -= PERIOD
    return due if now - due <= GRACE else None


def digest_event_id(end: datetime) -> uuid.UUID:
    """One id per UTC day (the day the digest's period ends): a day's digest is stored once, even
    if ``DIGEST_TIME`` changes that day."""
    return derived_event_id("daily-digest", end.astimezone(timezone.utc).date().isoformat())


async def record_digest(store: EventStore, reads: ReadModels, end: datetime) -> RecordedEvent | None:
    """Record the digest of the day ending at ``end``; None if that day has one already.

    The figures are read before the serialised decision (a day's events are read outside the
    append lock); the decision then appends unless the day's id is stored, so two processes (or a
    restart) record it once."""
    event_id = digest_event_id(end)
    version = await store.stream_version(ev.DIGEST_STREAM)
    if version and (await store.read_stream(ev.DIGEST_STREAM, version, 1))[0].id == event_id:
        return None  # the usual case after a restart, answered without taking the append lock
    digest = await digest_between(reads, end - PERIOD, end)

    async def decide(uow: UnitOfWork) -> RecordedEvent | None:
        if await uow.event_exists(event_id):
            return None
        return await uow.append(PendingEvent.of(digest, event_id=event_id))

    recorded, _ = await store.decide(decide)
    return recorded
