"""Analytics over the event log (the seed's sample queries and LLM cost)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class ToolStat:
    repo: str
    tool_name: str
    uses: int
    avg_duration_ms: float | None
    mcp_calls: int


@dataclass(frozen=True)
class MemoryStat:
    agent_id: str
    total_hits: int
    used_count: int
    used_pct: float


@dataclass(frozen=True)
class CostStat:
    key: str  # an agent id, or an issue stream id
    input_tokens: int
    output_tokens: int
    cost_usd: float
    turns: int


class Stats(Protocol):
    async def top_tools(self, repo: str | None = None) -> list[ToolStat]: ...

    async def memory_quality(self) -> list[MemoryStat]: ...

    async def cost_by_agent(self) -> list[CostStat]: ...

    async def cost_by_issue(self) -> list[CostStat]: ...
