"""The seed's SQL (top tools, memory recall hit rate) and TOKEN_USAGE cost, over ``mt_events``."""

from __future__ import annotations

from typing import Any

import asyncpg

from ..stats import CostStat, MemoryStat, ToolStat
from .errors import store_errors

# The seed's "top 10 tools by usage per repo", with an optional repo filter.
TOP_TOOLS = """
SELECT
    data->>'Repo'      AS repo,
    data->>'ToolName'  AS tool_name,
    COUNT(*)           AS uses,
    AVG((data->>'DurationMs')::bigint) AS avg_duration_ms,
    SUM(CASE WHEN data->>'IsMcp' = 'true' THEN 1 ELSE 0 END) AS mcp_calls
FROM mt_events
WHERE type = 'tool_used' AND ($1::text IS NULL OR data->>'Repo' = $1)
GROUP BY repo, tool_name
ORDER BY uses DESC
LIMIT 10
"""

# The seed's "memory quality: recall hit-rate by agent", verbatim.
MEMORY_QUALITY = """
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
ORDER BY used_pct DESC
"""

_COST = """
SELECT {key} AS key,
       COALESCE(SUM((data->>'InputTokens')::bigint), 0) AS input_tokens,
       COALESCE(SUM((data->>'OutputTokens')::bigint), 0) AS output_tokens,
       COALESCE(SUM((data->>'CostUsd')::numeric), 0) AS cost_usd,
       COUNT(*) AS turns
FROM mt_events
WHERE type = 'token_usage' {where}
GROUP BY 1
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
        rows = await self._fetch(TOP_TOOLS, repo)
        return [ToolStat(r["repo"] or "", r["tool_name"] or "", r["uses"],
                         float(r["avg_duration_ms"]) if r["avg_duration_ms"] is not None else None,
                         r["mcp_calls"]) for r in rows]

    async def memory_quality(self) -> list[MemoryStat]:
        return [MemoryStat(r["agent_id"], r["total_hits"], r["used_count"], float(r["used_pct"]))
                for r in await self._fetch(MEMORY_QUALITY)]

    async def cost_by_agent(self) -> list[CostStat]:
        return await self._cost("data->>'AgentId'", "")

    async def cost_by_issue(self) -> list[CostStat]:
        return await self._cost("stream_id", "AND COALESCE(data->>'Repo', '') <> '' "
                                             "AND (data->>'IssueNumber')::int > 0")

    async def _cost(self, key: str, where: str) -> list[CostStat]:
        rows = await self._fetch(_COST.format(key=key, where=where))
        return [CostStat(r["key"], r["input_tokens"], r["output_tokens"], float(r["cost_usd"]), r["turns"])
                for r in rows]
