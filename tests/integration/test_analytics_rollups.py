"""The /stats rollups: kept by the database in each append's transaction, equal to what the seed's
queries (and the cost query) compute from mt_events, and filled from the log when first created."""

from __future__ import annotations

import random

import asyncpg
from aiohttp.test_utils import TestClient

from eventstore.postgres.schema import migrate
from eventstore.postgres.stats import SEED_MEMORY_QUALITY, SEED_TOP_TOOLS, PostgresStats

# The cost figures straight from the log, as /stats computed them before the rollups.
COST_FROM_LOG = """
SELECT {key} AS key, COALESCE(SUM((data->>'InputTokens')::bigint), 0) AS input_tokens,
       COALESCE(SUM((data->>'OutputTokens')::bigint), 0) AS output_tokens,
       COALESCE(SUM((data->>'CostUsd')::numeric), 0) AS cost_usd, COUNT(*) AS turns
FROM mt_events WHERE type = 'token_usage' {where} GROUP BY 1
"""


async def _post_mix(api: TestClient, seed: int, count: int) -> None:
    rnd = random.Random(seed)
    for _ in range(count):
        agent = rnd.choice(["dev-e-1", "dev-e-2/abc12", "review-e"])
        repo, issue = rnd.choice([("acme/app", 1), ("acme/app", 2), ("acme/web", 7), ("", 0)])
        kind = rnd.random()
        if kind < 0.6:
            body = {"type": "TOOL_USED", "agentId": agent, "repo": repo, "issueNumber": issue,
                    "toolName": rnd.choice(["Bash", "Read", "mcp__mem__search"]), "isMcp": rnd.random() < 0.3}
            if rnd.random() < 0.8:
                body["durationMs"] = rnd.randrange(0, 5000)
        elif kind < 0.8:
            body = {"Type": "MEMORY_HIT_USED", "MemoryId": "m", "AgentId": agent, "UsedInOutput": rnd.random() < 0.5}
        else:
            body = {"type": "TOKEN_USAGE", "agentId": agent, "repo": repo, "issueNumber": issue, "model": "m",
                    "inputTokens": rnd.randrange(0, 9000), "outputTokens": rnd.randrange(0, 900),
                    "costUsd": round(rnd.random() / 7, 6), "category": "work"}
        resp = await api.post("/api/events", json=body)
        assert resp.status == 201, await resp.text()


async def _assert_rollups_match_the_log(db: asyncpg.Pool) -> None:
    stats = PostgresStats(db)
    seed_tools = {(r["repo"] or "", r["tool_name"]): (r["uses"], float(r["avg_duration_ms"] or 0), r["mcp_calls"])
                  for r in await db.fetch(SEED_TOP_TOOLS)}
    tools = {(t.repo, t.tool_name): (t.uses, t.avg_duration_ms or 0, t.mcp_calls) for t in await stats.top_tools()}
    assert tools.keys() == seed_tools.keys()
    for key, (uses, avg, mcp) in seed_tools.items():
        assert tools[key][0] == uses and tools[key][2] == mcp and abs(tools[key][1] - avg) < 1e-6
    memory = [(m.agent_id, m.total_hits, m.used_count, m.used_pct) for m in await stats.memory_quality()]
    seed_memory = [(r["agent_id"], r["total_hits"], r["used_count"], float(r["used_pct"]))
                   for r in await db.fetch(SEED_MEMORY_QUALITY)]
    assert sorted(memory) == sorted(seed_memory) and [m[3] for m in memory] == [m[3] for m in seed_memory]
    by_agent = {r["key"]: (r["input_tokens"], r["output_tokens"], r["cost_usd"], r["turns"])
                for r in await db.fetch(COST_FROM_LOG.format(key="data->>'AgentId'", where=""))}
    assert {c.key: (c.input_tokens, c.output_tokens, c.cost_usd, c.turns) for c in await stats.cost_by_agent()} == {
        k: (i, o, float(c), t) for k, (i, o, c, t) in by_agent.items()}
    by_issue = await db.fetch(COST_FROM_LOG.format(
        key="stream_id", where="AND COALESCE(data->>'Repo', '') <> '' AND (data->>'IssueNumber')::int > 0"))
    assert {c.key: c.turns for c in await stats.cost_by_issue()} == {r["key"]: r["turns"] for r in by_issue}
    assert by_issue and by_agent


async def test_rollups_answer_what_the_log_does(api: TestClient, db: asyncpg.Pool) -> None:
    await _post_mix(api, seed=16, count=120)
    await _assert_rollups_match_the_log(db)
    assert await db.fetchval("SELECT count(*) FROM ce_rollup_tools") <= 12  # a few rows, however long the log


async def test_rollups_are_filled_from_the_log_when_first_made(api: TestClient, db: asyncpg.Pool) -> None:
    await _post_mix(api, seed=4, count=60)
    async with db.acquire() as conn:
        # As a database from before the rollups: no trigger, no tables, no version note.
        await conn.execute("DROP TRIGGER ce_roll_up_analytics ON mt_events; "
                           "DROP TABLE ce_rollup_tools, ce_rollup_memory_hits, ce_rollup_cost; "
                           "COMMENT ON FUNCTION ce_roll_up_analytics() IS NULL")
        await migrate(conn)
    await _assert_rollups_match_the_log(db)
    await _post_mix(api, seed=5, count=30)  # and kept from then on
    await _assert_rollups_match_the_log(db)
