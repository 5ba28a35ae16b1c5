"""Analytics are never lost for a cosmetic defect: a null issue means "no issue", NUL is replaced."""

from __future__ import annotations

import asyncpg
from aiohttp.test_utils import TestClient


async def test_token_usage_with_a_null_issue_number_is_kept_on_the_agents_stream(api: TestClient,
                                                                                db: asyncpg.Pool) -> None:
    for body in ({"type": "TOKEN_USAGE", "agentId": "dev-e-1", "repo": "acme/app", "issueNumber": None,
                  "model": "m", "costUsd": 0.25},
                 {"type": "TOOL_USED", "agentId": "dev-e-1", "repo": None, "issueNumber": None, "toolName": "Bash"},
                 {"Type": "MEMORY_WRITE", "AgentId": "dev-e-1", "Repo": None, "IssueNumber": None}):
        resp = await api.post("/api/events", json=body)
        assert resp.status == 201, await resp.text()
        assert (await resp.json())["streamId"] == "dev-e-1"
    assert await db.fetchval("SELECT (data->>'CostUsd')::float FROM mt_events WHERE type = 'token_usage'") == 0.25


async def test_nul_in_analytics_text_is_replaced_and_said(api: TestClient, db: asyncpg.Pool) -> None:
    resp = await api.post("/api/events", json={"type": "MEMORY_READ", "agentId": "dev-e-1",
                                               "query": "find\u0000me", "hits": 2})
    assert resp.status == 201
    assert (await resp.json())["warnings"] == ["query: NUL replaced with U+FFFD"]
    assert await db.fetchval("SELECT data->>'Query' FROM mt_events WHERE type = 'memory_read'") == "find\ufffdme"
    # Lifecycle events are the rig's state: NUL there is still refused, and nothing stored.
    refused = await api.post("/api/events", json={"type": "ISSUE_APPROVED", "repo": "o/r", "issueNumber": 1,
                                                  "title": "a\u0000b"})
    assert refused.status == 422 and (await refused.json())["error"] == "invalid_text"
    ok = await api.post("/api/events", json={"type": "TOOL_USED", "agentId": "dev-e-1", "toolName": "Bash"})
    assert "warnings" not in await ok.json()
