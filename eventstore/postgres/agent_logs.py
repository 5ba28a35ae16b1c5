"""Agent logs in ``ce_agent_logs`` (``eventstore.agent_logs``): one INSERT per batch, reads by
index, retention in bounded DELETEs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from ..agent_logs import AgentLogEntry, StoredLogEntry
from ..agents import agent_of, pod_of
from .errors import store_errors
from .liveness import Liveness

# An agent gives up after 2 s: a write not done by then is answered 503 (and may not be stored).
WRITE_WAIT = 1.2
PRUNE_BATCH = 10_000  # rows per DELETE, so one statement never holds a long lock
PRUNE_ROUNDS = 10  # DELETEs per call at most; the scheduler's next tick goes on

_INSERT = """
INSERT INTO ce_agent_logs (agent_id, agent, received_at, logged_at, level, message, extra)
SELECT $1, $2, $3, u.e->'t', u.e->>'l', u.e->>'m', nullif(u.e->'x', '{}'::jsonb)
FROM jsonb_array_elements($4::jsonb) WITH ORDINALITY AS u(e, n) ORDER BY u.n
"""
_COLUMNS = "id, agent_id, received_at, logged_at, level, message, extra"
_PRUNE = """
DELETE FROM ce_agent_logs WHERE id IN (
    SELECT id FROM ce_agent_logs WHERE received_at < $1 ORDER BY received_at LIMIT $2)
"""


class PostgresAgentLogs:
    def __init__(self, pool: asyncpg.Pool, liveness: Liveness | None = None) -> None:
        self._pool = pool
        self._liveness = liveness

    async def _run(self, method: str, sql: str, *args: Any, timeout: float | None = None) -> Any:
        with store_errors():
            work = getattr(self._pool, method)(sql, *args, timeout=timeout)
            return await (self._liveness.guard(work) if self._liveness is not None else work)

    async def append(self, agent_id: str, entries: Sequence[AgentLogEntry], received_at: datetime) -> int:
        if not entries:
            return 0
        rows = [{"t": e.timestamp, "l": e.level, "m": e.message, "x": e.extra} for e in entries]
        await self._run("execute", _INSERT, agent_id, agent_of(agent_id), received_at, rows, timeout=WRITE_WAIT)
        return len(entries)

    async def recent(self, agent_id: str | None = None, limit: int = 100,
                     before: int | None = None) -> list[StoredLogEntry]:
        conditions: list[str] = []
        args: list[Any] = []
        if agent_id is not None:  # by the agent (its index), then the pod if one is named
            args.append(agent_of(agent_id))
            conditions.append(f"agent = ${len(args)}")
            if pod_of(agent_id) is not None:
                args.append(agent_id)
                conditions.append(f"agent_id = ${len(args)}")
        if before is not None:
            args.append(before)
            conditions.append(f"id < ${len(args)}")
        where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        rows = await self._run("fetch", f"SELECT {_COLUMNS} FROM ce_agent_logs {where} "
                               f"ORDER BY id DESC LIMIT ${len(args) + 1}", *args, limit)
        return [StoredLogEntry(r["id"], r["agent_id"], r["received_at"], r["logged_at"], r["level"], r["message"],
                               r["extra"] or {}) for r in rows]

    async def prune(self, older_than: datetime) -> int:
        deleted = 0
        for _ in range(PRUNE_ROUNDS):
            status = await self._run("execute", _PRUNE, older_than, PRUNE_BATCH)
            count = int(status.split()[-1])  # "DELETE n"
            deleted += count
            if count < PRUNE_BATCH:
                break
        return deleted
