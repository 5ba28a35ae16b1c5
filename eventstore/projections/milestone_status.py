"""MilestoneStatus: which approved issues of a (repo, milestone) are done; one per milestone."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from .. import events as ev
from ..naming import STORED_NAMES

if TYPE_CHECKING:  # the store imports the read models, which import these
    from ..store import RecordedEvent


class MilestoneStatus(BaseModel):
    model_config = ConfigDict(frozen=True, alias_generator=STORED_NAMES)

    id: str
    repo: str
    milestone: str
    issues: list[int] = Field(default_factory=list)
    done: list[int] = Field(default_factory=list)
    completed: bool = False
    completed_at: datetime | None = None

    @property
    def all_done(self) -> bool:
        return bool(self.issues) and set(self.issues) <= set(self.done)


def evolve(doc: MilestoneStatus | None, milestone_id: str, repo: str, milestone: str,
           issue_number: int, rec: RecordedEvent) -> MilestoneStatus:
    doc = doc or MilestoneStatus(id=milestone_id, repo=repo, milestone=milestone)
    match rec.event:
        case ev.IssueApproved() if issue_number not in doc.issues:
            return doc.model_copy(update={"issues": sorted([*doc.issues, issue_number])})
        case ev.IssueDone() if issue_number not in doc.done:
            return doc.model_copy(update={"done": sorted([*doc.done, issue_number])})
        case ev.MilestoneComplete():
            return doc.model_copy(update={"completed": True, "completed_at": rec.timestamp})
    return doc
