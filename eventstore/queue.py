"""The work queue, pure: which queued issues may be offered, in which order."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any, Protocol

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
    return sorted((i for i in candidates if offerable(i, done)), key=queue_order)


class DocQuery(Protocol):
    """Documents of ``model`` whose ``data`` match a SQL condition: ``UnitOfWork.query`` or
    ``ReadModels.query``."""

    async def __call__(self, model: type[IssueStatus], where: str = "TRUE", *args: Any) -> list[IssueStatus]: ...


async def load_queue(query: DocQuery) -> list[IssueStatus]:
    """The queue from any document source that answers SQL conditions on ``data``."""
    queued = await query(IssueStatus, "data->>'State' = 'queued' AND data->>'AssignedAgent' IS NULL")
    repos = sorted({i.repo for i in queued if i.depends_on})
    done = await query(IssueStatus, "data->>'State' = 'done' AND data->>'Repo' = ANY($1::text[])",
                       repos) if repos else []
    return build_queue(queued, {(d.repo, d.issue_number) for d in done})
