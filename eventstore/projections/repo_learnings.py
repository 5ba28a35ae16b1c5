"""RepoLearnings: one document per repo, the latest value of each learning and who set it when."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from .. import events as ev
from ..naming import STORED_NAMES

if TYPE_CHECKING:  # the store imports the read models, which import these
    from ..store import RecordedEvent


class Learning(BaseModel):
    model_config = ConfigDict(frozen=True, alias_generator=STORED_NAMES)

    key: str
    value: str
    set_by: str | None = None
    updated_at: datetime


class RepoLearnings(BaseModel):
    model_config = ConfigDict(frozen=True, alias_generator=STORED_NAMES)

    id: str  # the repo
    repo: str
    learnings: list[Learning] = Field(default_factory=list)  # by key, in code point order
    updated_at: datetime | None = None

    def get(self, key: str) -> Learning | None:
        return next((learning for learning in self.learnings if learning.key == key), None)


def evolve(doc: RepoLearnings | None, rec: RecordedEvent) -> RepoLearnings | None:
    e, at = rec.event, rec.timestamp
    if not isinstance(e, ev.RepoLearningRecorded):
        return doc
    doc = doc or RepoLearnings(id=e.repo, repo=e.repo)
    learning = Learning(key=e.key, value=e.value, set_by=e.set_by, updated_at=at)
    others = [existing for existing in doc.learnings if existing.key != e.key]
    return doc.model_copy(update={"learnings": sorted([*others, learning], key=lambda item: item.key),
                                  "updated_at": at})
