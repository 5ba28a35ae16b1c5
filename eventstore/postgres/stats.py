"""Analytics for ``/stats``: the tools, memory and cost rollups that a trigger keeps in each
appending transaction (``schema.ROLLUP_*``), a few rows each however long the log.

The seed's own two queries over ``mt_events`` stay here verbatim: they are the users' SQL, which
runs unchanged against our tables, and the tests check that the rollups answer the same.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from ..stats import CostStat, MemoryStat, ToolStat
from .errors import store_errors

SEED_TOP_TOOLS = """
SELECT
    data->>'Repo'      AS repo,
    data->>'ToolName'  AS tool_name,
    COUNT(*)           AS uses,
    AVG((data->>'DurationMs')::bigint) AS avg_duration_ms,
    SUM(CASE WHEN data->>'IsMcp' = 'true' THEN 1 ELSE 0 END) AS mcp_calls
FROM mt_events
WHERE type = 'tool_used'
GROUP BY repo, tool_name
ORDER BY uses DESC
LIMIT 10;
"""

SEED_MEMORY_QUALITY = """
SELECT
    data->>'AgentId'      AS agent_id,
    COUNT(*)              AS total_hits,
    SUM(CASE WHEN data->>'UsedInOutput' = 'true' THEN 1 ELSE 0 END) AS used_count,
    ROUND(
        100.0 * SUM(CASE WHEN data->>'UsedInOutput' = 'true' THEN 1 ELSE 0 END) / COUNT(*), 1
    ) AS used_pct
FROM mt_events
WHERE type = 'memory_hit_used'
GROUP BY agent_id
ORDER BY used_pct DESC;
"""

_TOP_TOOLS = """
SELECT repo, tool_name, uses, duration_ms_sum / nullif(duration_ms_count, 0) AS avg_duration_ms, mcp_calls
FROM ce_rollup_tools WHERE $1::text IS NULL OR repo = $1
ORDER BY uses DESC, repo, tool_name
LIMIT 10
"""

_MEMORY_QUALITY = """
SELECT agent_id, total_hits, used_count, round(100.0 * used_count / total_hits, 1) AS used_pct
FROM ce_rollup_memory_hits
ORDER BY used_pct DESC, agent_id
"""

_COST = """
SELECT key, input_tokens, output_tokens, cost_usd, turns FROM ce_rollup_cost WHERE scope = $1
ORDER BY cost_usd DESC, key
LIMIT 25
"""


class PostgresStats:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def _fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        with store_errors():
            return await self._pool.fetch(sql, *args)

    async def top_tools(self, repo: str | None = None) -> list[ToolStat]:
        rows = await self._fetch(_TOP_TOOLS, repo)
        return [ToolStat(r["repo"], r["tool_name"], r["uses"],
                         float(r["avg_duration_ms"]) if r["avg_duration_ms"] is not None else None,
                         r["mcp_calls"]) for r in rows]

    async def memory_quality(self) -> list[MemoryStat]:
        return [MemoryStat(r["agent_id"], r["total_hits"], r["used_count"], float(r["used_pct"]))
                for r in await self._fetch(_MEMORY_QUALITY)]

    async def cost_by_agent(self) -> list[CostStat]:
        return await self._cost("agent")

    async def cost_by_issue(self) -> list[CostStat]:
        return await self._cost("issue")

    async def _cost(self, scope: str) -> list[CostStat]:
        rows = await self._fetch(_COST, scope)
        return [CostStat(r["key"], r["input_tokens"], r["output_tokens"], float(r["cost_usd"]), r["turns"])
                for r in rows]
