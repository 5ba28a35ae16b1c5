"""The daily digest, pure: its figures from the reads, when one is due, its id."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

from eventstore.activity import Activity, CostBreakdown, GateDecision, Merge
from eventstore.digest import GRACE, compile_digest, digest_due, digest_event_id
from eventstore.ids import is_derived
from eventstore.stats import CostStat

from .helpers import T0

END = datetime(2026, 12, 2, 9, 0, tzinfo=timezone.utc)
START = END - timedelta(days=1)


def minutes(n: float) -> datetime:
    return START + timedelta(minutes=n)


ACTIVITY = Activity(
    done=[f"acme/app#{n}" for n in range(1, 14)], escalated=["acme/app#20"], stuck_reports=3,
    merges=[Merge("acme/app#1", minutes(100), minutes(10)), Merge("acme/app#2", minutes(300), minutes(100)),
            Merge("acme/app#3", minutes(400), minutes(370)), Merge("acme/app#4", minutes(500), None)],
    decisions=[GateDecision("acme/app#1", True, minutes(50), minutes(20)),
               GateDecision("acme/app#2", False, minutes(90), minutes(30)), GateDecision("x/y#1", True, minutes(9), None)],
)
COST = CostBreakdown(by_agent=[CostStat("dev-e-1", 1000, 200, 2.5, 4), CostStat("review-e", 10, 5, 0.25, 1)],
                     by_repo=[CostStat("acme/app", 1000, 200, 2.0, 3), CostStat("", 10, 5, 0.75, 2)])


def test_the_figures_of_a_day() -> None:
    digest = compile_digest(ACTIVITY, COST, START, END)
    assert (digest.period_start, digest.period_end) == (START, END)
    assert digest.done_count == 13 and digest.done == [f"acme/app#{n}" for n in range(1, 11)]  # 10 named
    assert (digest.escalated_count, digest.escalated, digest.stuck_reports) == (1, ["acme/app#20"], 3)
    # time to merge 90, 200 and 30 min (the fourth merge's PR opening is unknown): median 90
    assert (digest.merged_count, digest.median_merge_minutes) == (4, 90.0)
    # waits 30 and 60 min (the third gate's opening is unknown): median 45
    assert (digest.gates_approved, digest.gates_rejected, digest.median_gate_wait_minutes) == (2, 1, 45.0)
    assert digest.cost_usd == 2.75
    assert [(c.key, c.cost_usd, c.turns) for c in digest.cost_by_agent] == [("dev-e-1", 2.5, 4), ("review-e", 0.25, 1)]
    assert [c.key for c in digest.cost_by_repo] == ["acme/app", ""]


def test_when_a_digest_is_due() -> None:
    nine = time(9, 0)
    today = datetime(2026, 12, 2, 9, 0, tzinfo=timezone.utc)
    assert digest_due(today, nine) == today
    assert digest_due(today + timedelta(minutes=30), nine) == today
    assert digest_due(today - timedelta(minutes=1), nine) is None  # yesterday's is 24 h old: past the grace
    assert digest_due(today + GRACE, nine) == today
    assert digest_due(today + GRACE + timedelta(seconds=1), nine) is None  # missed while down: the next one
    just_after_midnight = datetime(2026, 12, 3, 0, 5, tzinfo=timezone.utc)
    assert digest_due(just_after_midnight, time(23, 50)) == datetime(2026, 12, 2, 23, 50, tzinfo=timezone.utc)
    # another time zone for "now" is the same instant
    oslo = timezone(timedelta(hours=1))
    assert digest_due(datetime(2026, 12, 2, 10, 30, tzinfo=oslo), nine) == today


def test_one_digest_id_per_day() -> None:
    today = datetime(2026, 12, 2, 9, 0, tzinfo=timezone.utc)
    assert digest_event_id(today) == digest_event_id(today.replace(hour=17)) != digest_event_id(T0)
    assert is_derived(digest_event_id(today))  # a space no client may post in
