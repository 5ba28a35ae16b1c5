"""What the rig did in a period, as the read vocabulary answers it (``ReadModels.activity`` and
``ReadModels.cost_between``): the facts the daily digest is compiled from (``digest``).

Both answers come from the events themselves, by their timestamps: documents keep only the
present (an escalation a human requeued is gone from its issue's document, a second gate replaces
the first), while a digest reports what happened. A period runs from ``start`` (included) to
``end`` (excluded). Each store turns its events into ``ActivityRow``s and ``activity_from`` makes
the answer, so the two stores can differ only in which rows they find.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .stats import CostStat

# The stored aliases (mt_events.type) the activity is read from.
DONE, ESCALATED, STUCK, MERGED = "issue_done", "escalated", "agent_stuck", "merged"
APPROVED, REJECTED = "human_gate_approved", "human_gate_rejected"
ACTIVITY_TYPES = (DONE, ESCALATED, STUCK, MERGED, APPROVED, REJECTED)


@dataclass(frozen=True)
class ActivityRow:
    """One event of the period. ``began``: for MERGED, when its PR was opened (the PR_CREATED of
    the merged PR before it in the stream, the earliest; when the merge names no PR, the latest
    PR_CREATED before it); for a gate decision, when that gate opened (the HUMAN_GATE_TRIGGERED
    just before it in the stream); None otherwise, or when there is none."""

    kind: str  # one of ACTIVITY_TYPES
    stream_id: str
    at: datetime
    began: datetime | None = None


@dataclass(frozen=True)
class Merge:
    stream_id: str
    merged_at: datetime
    pr_opened_at: datetime | None

    @property
    def time_to_merge(self) -> timedelta | None:
        return self.merged_at - self.pr_opened_at if self.pr_opened_at is not None else None


@dataclass(frozen=True)
class GateDecision:
    stream_id: str
    approved: bool
    decided_at: datetime
    opened_at: datetime | None

    @property
    def wait(self) -> timedelta | None:
        return self.decided_at - self.opened_at if self.opened_at is not None else None


@dataclass(frozen=True)
class Activity:
    done: list[str] = field(default_factory=list)  # issues with an ISSUE_DONE, by stream id (code point order)
    escalated: list[str] = field(default_factory=list)  # issues with an ESCALATED, likewise
    stuck_reports: int = 0  # AGENT_STUCK events, on any stream
    merges: list[Merge] = field(default_factory=list)  # in the order they happened
    decisions: list[GateDecision] = field(default_factory=list)  # HUMAN_GATE_APPROVED/REJECTED, likewise


@dataclass(frozen=True)
class CostBreakdown:
    """TOKEN_USAGE of the period by agent (pods counted as their agent) and by repo ("" for usage
    naming none), each the costliest first, then by key."""

    by_agent: list[CostStat] = field(default_factory=list)
    by_repo: list[CostStat] = field(default_factory=list)


def activity_from(rows: Iterable[ActivityRow]) -> Activity:
    """The answer from the period's rows, in the order they were stored."""
    done: set[str] = set()
    escalated: set[str] = set()
    stuck = 0
    merges: list[Merge] = []
    decisions: list[GateDecision] = []
    for row in rows:
        if row.kind == DONE:
            done.add(row.stream_id)
        elif row.kind == ESCALATED:
            escalated.add(row.stream_id)
        elif row.kind == STUCK:
            stuck += 1
        elif row.kind == MERGED:
            merges.append(Merge(row.stream_id, row.at, row.began))
        elif row.kind in (APPROVED, REJECTED):
            decisions.append(GateDecision(row.stream_id, row.kind == APPROVED, row.at, row.began))
    return Activity(sorted(done), sorted(escalated), stuck, merges, decisions)
