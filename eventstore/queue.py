"""The work queue, pure: which queued issues may be offered, in which order."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone

from .projections.issue_status import IssueState, IssueStatus

PRIORITY_RANK = {"critical": 0, "high": 1, "normal": 2, "low": 3}
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def offerable(issue: IssueStatus, done: set[tuple[str, int]]) -> bool:
    """Queued, approved, unassigned, and every issue it depends on (same repo) is done."""
    return (
        issue.state is IssueState.QUEUED
        and issue.approved
        and issue.assigned_agent is None
        and all((issue.repo, n) in done for n in issue.depends_on)
    )


def queue_order(issue: IssueStatus) -> tuple[int, datetime, str, int]:
    """critical > high > normal > low, then the oldest approval first."""
    return (PRIORITY_RANK.get(issue.priority, 2), issue.approved_at or _EPOCH, issue.repo, issue.issue_number)


def build_queue(candidates: Iterable[IssueStatus], done: set[tuple[str, int]]) -> list[IssueStatus]:
    """The queue from the issues that may be in it and the (repo, number) of those done."""
    return sorted((i for i in candidates if offerable(i, done)), key=queue_order)
