"""Follow-ups the rules derive cannot be suppressed by a client posting under their id first."""

from __future__ import annotations

import uuid

import asyncpg
from aiohttp.test_utils import TestClient

from eventstore.ids import derived_event_id

from .test_conductor_api import REPO, approve, post, types_on


async def test_a_client_cannot_take_a_follow_ups_id_first(api: TestClient, db: asyncpg.Pool) -> None:
    await approve(api, 1)
    await api.get("/api/assignments/next", params={"agentId": "dev-e-1"})
    stuck_id = str(uuid.uuid4())  # the client chooses the cause's id, so it can compute the follow-up's
    squat = derived_event_id(stuck_id, "stuck-first-strike")
    resp = await api.post("/api/events", json={"type": "TOOL_USED", "agentId": "mallory", "toolName": "Bash",
                                               "eventId": str(squat)})
    assert resp.status == 422
    body = await resp.json()
    assert body["error"] == "reserved_event_id" and body["problems"][0]["field"] == "eventId"
    assert await db.fetchval("SELECT count(*) FROM mt_events WHERE id = $1", squat) == 0
    await post(api, {"type": "AGENT_STUCK", "agentId": "dev-e-1", "repo": REPO, "issueNumber": 1,
                     "eventId": stuck_id})
    assert await types_on(api, 1) == ["ISSUE_APPROVED", "ISSUE_ASSIGNED", "AGENT_STUCK", "ISSUE_UNASSIGNED"]
    assert await db.fetchval("SELECT type FROM mt_events WHERE id = $1", squat) == "issue_unassigned"


async def test_client_chosen_ids_of_other_versions_still_make_retries_idempotent(api: TestClient) -> None:
    chosen = str(uuid.uuid4())
    body = {"type": "HEARTBEAT", "agentId": "dev-e-1", "eventId": chosen}
    first = await api.post("/api/events", json=body)
    again = await api.post("/api/events", json=body)
    assert (first.status, again.status) == (201, 200) and (await again.json())["duplicate"] is True
