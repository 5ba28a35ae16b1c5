"""Read models over PostgreSQL: simple SQL on the ``mt_doc_*`` tables."""

from __future__ import annotations

from typing import Any, TypeVar

import asyncpg
from pydantic import BaseModel

from ..projections.agent_status import AgentStatus
from ..projections.issue_status import IssueStatus
from ..queue import load_queue
from ..store import StoreUnavailable
from .documents import doc_table, load_doc
from .liveness import Liveness
from .store import CONNECTION_ERRORS

D = TypeVar("D", bound=BaseModel)


class PostgresReadModels:
    def __init__(self, pool: asyncpg.Pool, liveness: Liveness | None = None) -> None:
        self._pool = pool
        self._liveness = liveness

    async def query(self, model: type[D], where: str = "TRUE", *args: Any, order: str = "id") -> list[D]:
        sql = f"SELECT data::text AS data FROM {doc_table(model)} WHERE {where} ORDER BY {order}"
        try:
            if self._liveness is not None:
                rows = await self._liveness.guard(self._pool.fetch(sql, *args))
            else:
                rows = await self._pool.fetch(sql, *args)
        except CONNECTION_ERRORS as exc:
            raise StoreUnavailable(f"database unavailable: {exc}") from exc
        return [load_doc(model, r["data"]) for r in rows]

    async def agents(self) -> list[AgentStatus]:
        return await self.query(AgentStatus)

    async def agent(self, agent_id: str) -> AgentStatus | None:
        found = await self.query(AgentStatus, "id = $1", agent_id)
        return found[0] if found else None

    async def issues(self, state: str | None = None, repo: str | None = None) -> list[IssueStatus]:
        return await self.query(
            IssueStatus,
            "($1::text IS NULL OR data->>'State' = $1) AND ($2::text IS NULL OR data->>'Repo' = $2)",
            state, repo, order="data->>'Repo', (data->>'IssueNumber')::int",
        )

    async def issue(self, stream_id: str) -> IssueStatus | None:
        found = await self.query(IssueStatus, "id = $1", stream_id)
        return found[0] if found else None

    async def queue(self) -> list[IssueStatus]:
        return await load_queue(self.query)
