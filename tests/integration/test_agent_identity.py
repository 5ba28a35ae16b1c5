"""A pod-suffixed agent id (``dev-e-1/abc12``) is its agent for every rule, through HTTP."""

from __future__ import annotations

from datetime import timedelta

from aiohttp.test_utils import TestClient

from eventstore.conductor import detect_silent_assignees
from eventstore.postgres.store import PostgresEventStore

from ..conftest import FakeClock
from .test_conductor_api import REPO, approve, issue, post, types_on

TIMEOUT = timedelta(minutes=10)


async def claim(api: TestClient, agent_id: str) -> dict:
    resp = await api.get("/api/assignments/next", params={"agentId": agent_id})
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def test_pod_heartbeats_keep_the_agents_assignment_alive(api: TestClient, store: PostgresEventStore,
                                                               clock: FakeClock) -> None:
    await approve(api, 1)
    assert (await claim(api, "dev-e-1"))["claimed"] is True
    for _ in range(5):  # 5 x 4 min = 20 min held, heartbeats from two pods in turn
        clock.advance(minutes=4)
        await post(api, {"type": "HEARTBEAT", "agentId": "dev-e-1/abc12", "status": "working"})
        assert await detect_silent_assignees(store, clock(), TIMEOUT) == 0
    clock.advance(minutes=9)
    await post(api, {"type": "HEARTBEAT", "agentId": "dev-e-1/zz9x1", "status": "working"})
    clock.advance(minutes=9)
    assert await detect_silent_assignees(store, clock(), TIMEOUT) == 0
    assert (await issue(api, 1))["assignedAgent"] == "dev-e-1"
    # Then no pod of the agent speaks for the timeout: now it is stuck, once.
    clock.advance(minutes=2)
    assert await detect_silent_assignees(store, clock(), TIMEOUT) == 1
    assert await types_on(api, 1) == ["ISSUE_APPROVED", "ISSUE_ASSIGNED", "AGENT_STUCK", "ISSUE_UNASSIGNED"]


async def test_another_agents_heartbeat_does_not_count(api: TestClient, store: PostgresEventStore,
                                                       clock: FakeClock) -> None:
    await approve(api, 1)
    await claim(api, "dev-e-1")
    for _ in range(3):
        clock.advance(minutes=4)
        await post(api, {"type": "HEARTBEAT", "agentId": "dev-e-10/abc12"})  # a prefix, not a pod
        await post(api, {"type": "HEARTBEAT", "agentId": "dev-e-2/dev-e-1"})
    assert await detect_silent_assignees(store, clock(), TIMEOUT) == 1


async def test_agents_list_what_pods_report_and_whose_they_are(api: TestClient, clock: FakeClock) -> None:
    await post(api, {"type": "HEARTBEAT", "agentId": "dev-e-1/abc12", "status": "working"})
    # A heartbeat alone does not invent an entry for the agent (the real runtime renders this list).
    agents = await (await api.get("/api/agents")).json()
    assert [(a["id"], a["agent"], a["pod"]) for a in agents] == [("dev-e-1/abc12", "dev-e-1", "abc12")]
    await approve(api, 1)
    await claim(api, "dev-e-1")
    clock.advance(minutes=1)
    await post(api, {"type": "HEARTBEAT", "agentId": "dev-e-1/abc12", "status": "working"})
    agents = {a["id"]: a for a in await (await api.get("/api/agents")).json()}
    assert (agents["dev-e-1"]["agent"], agents["dev-e-1"]["pod"]) == ("dev-e-1", None)
    assert agents["dev-e-1"]["assignment"] == f"{REPO}#1" and agents["dev-e-1"]["isOnline"] is True
    assert agents["dev-e-1/abc12"]["assignment"] is None and agents["dev-e-1/abc12"]["status"] == "working"


async def test_a_pod_claims_and_is_held_as_its_agent(api: TestClient) -> None:
    await approve(api, 1)
    await approve(api, 2)
    first = await claim(api, "dev-e-1/abc12")
    assert first["assignedAgent"] == "dev-e-1" and first["claimed"] is True
    # Another pod of the same agent, and the bare id, get the same assignment back.
    assert (await claim(api, "dev-e-1/zz9x1"))["issueNumber"] == first["issueNumber"]
    again = await claim(api, "dev-e-1")
    assert again["issueNumber"] == first["issueNumber"] and again["claimed"] is False


async def test_a_stuck_pod_excludes_its_agent_and_unassigns_it(api: TestClient) -> None:
    await approve(api, 1)
    await claim(api, "dev-e-1")
    # Reported by a pod, naming no issue: it concerns the issue its agent holds.
    await post(api, {"type": "AGENT_STUCK", "agentId": "dev-e-1/abc12", "reason": "loop"})
    doc = await issue(api, 1)
    assert doc["state"] == "queued" and doc["assignedAgent"] is None and doc["stuckAgents"] == ["dev-e-1"]
    assert (await api.get("/api/assignments/next", params={"agentId": "dev-e-1/other"})).status == 204
    assert (await claim(api, "dev-e-2"))["issueNumber"] == 1
    agent = await (await api.get("/api/agents/dev-e-1")).json()
    assert agent["assignment"] is None and agent["stuckCount"] == 1


async def test_an_agent_id_naming_a_pod_of_no_agent_is_refused(api: TestClient) -> None:
    resp = await api.post("/api/events", json={"type": "HEARTBEAT", "agentId": "/abc12"})
    assert resp.status == 422 and (await resp.json())["problems"][0]["field"] == "agentId"
    await approve(api, 1)
    for method in ("GET", "POST", "HEAD"):
        claim_resp = await api.request(method, "/api/assignments/next", params={"agentId": "/abc12"})
        assert claim_resp.status == 400, method
