"""The same event id (or Idempotency-Key) with a different body is 409, not a silent duplicate."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
from aiohttp.test_utils import TestClient

from .test_conductor_api import REPO, approve, types_on

TOOL = {"type": "TOOL_USED", "agentId": "dev-e-1", "repo": REPO, "issueNumber": 1, "toolName": "Bash"}


async def count(db: asyncpg.Pool) -> int:
    return int(await db.fetchval("SELECT count(*) FROM mt_events"))


async def test_a_reused_id_with_another_body_is_a_conflict(api: TestClient, db: asyncpg.Pool) -> None:
    event_id = str(uuid.uuid4())
    assert (await api.post("/api/events", json={**TOOL, "eventId": event_id})).status == 201
    clash = await api.post("/api/events", json={**TOOL, "toolName": "Edit", "eventId": event_id})
    assert clash.status == 409
    body = await clash.json()
    assert body["error"] == "idempotency_conflict" and "different event" in body["message"]
    # The same event again, spelled differently and with its keys in another order: a retry.
    respelled = {"EventId": event_id, "ToolName": "Bash", "IssueNumber": 1, "Repo": REPO, "AgentId": "dev-e-1",
                 "Type": "TOOL_USED", "unknownField": "ignored"}
    retry = await api.post("/api/events", json=respelled)
    assert retry.status == 200 and (await retry.json())["duplicate"] is True
    assert await count(db) == 1


async def test_an_idempotency_key_reused_for_another_body_is_a_conflict(api: TestClient, db: asyncpg.Pool) -> None:
    key = {"Idempotency-Key": "run-42-turn-7"}
    assert (await api.post("/api/events", json=TOOL, headers=key)).status == 201
    assert (await api.post("/api/events", json={**TOOL, "turn": 8}, headers=key)).status == 409
    assert (await api.post("/api/events", json=TOOL, headers=key)).status == 200
    assert await count(db) == 1


async def test_two_bodies_under_one_id_in_one_batch(api: TestClient, db: asyncpg.Pool) -> None:
    event_id = str(uuid.uuid4())
    bodies = [{**TOOL, "toolName": name, "eventId": event_id} for name in ("Bash", "Edit", "Bash")]
    answers = await asyncio.gather(*(api.post("/api/events", json=b) for b in bodies))
    statuses = sorted(a.status for a in answers)
    assert await count(db) == 1
    stored = await db.fetchval("SELECT data->>'ToolName' FROM mt_events")
    expected = [200, 201, 409] if stored == "Bash" else [201, 409, 409]
    assert statuses == expected


async def test_a_retried_agent_stuck_is_a_retry_though_it_was_moved_to_the_issue(api: TestClient,
                                                                                 db: asyncpg.Pool) -> None:
    await approve(api, 1)
    await api.get("/api/assignments/next", params={"agentId": "dev-e-1"})
    stuck = {"type": "AGENT_STUCK", "agentId": "dev-e-1", "reason": "loop", "eventId": str(uuid.uuid4())}
    first = await api.post("/api/events", json=stuck)
    assert first.status == 201 and (await first.json())["streamId"] == f"{REPO}#1"
    # The first strike unassigned the agent, so the same body would now route to the agent's stream.
    again = await api.post("/api/events", json=stuck)
    assert again.status == 200 and (await again.json())["streamId"] == f"{REPO}#1"
    assert await types_on(api, 1) == ["ISSUE_APPROVED", "ISSUE_ASSIGNED", "AGENT_STUCK", "ISSUE_UNASSIGNED"]
