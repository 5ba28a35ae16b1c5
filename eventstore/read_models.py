"""The read side's interface: documents kept by the inline projections, plus the queue."""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

from pydantic import BaseModel

from .projections.agent_status import AgentStatus
from .projections.issue_status import IssueStatus

D = TypeVar("D", bound=BaseModel)


class ReadModels(Protocol):
    async def query(self, model: type[D], where: str = "TRUE", *args: Any) -> list[D]:
        """Documents whose ``data`` match a SQL condition (parameters ``$1``...)."""
        ...

    async def agents(self) -> list[AgentStatus]: ...

    async def agent(self, agent_id: str) -> AgentStatus | None: ...

    async def issues(self, state: str | None = None, repo: str | None = None) -> list[IssueStatus]: ...

    async def issue(self, stream_id: str) -> IssueStatus | None: ...

    async def queue(self) -> list[IssueStatus]: ...
