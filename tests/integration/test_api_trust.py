"""Trust over HTTP: human decisions need an operator's token, agents' tokens speak for their agent
only, the tokens mode closes every route but /health, HEAD never claims, tokens never leak."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.credentials import Credentials
from bot.http.app import create_app
from bot.http.app_keys import ApiDeps
from eventstore.postgres.read_models import PostgresReadModels
from eventstore.postgres.store import PostgresEventStore

from ..conftest import OPERATOR, OPERATOR_TOKEN, FakeClock
from .test_conductor_api import REPO, approve, post, types_on

DEV_TOKEN = "dev-e-1-token-aaaaaaaaaaaaaaaa"
REVIEW_TOKEN = "review-e-token-bbbbbbbbbbbbbbbb"
DEV = {"Authorization": f"Bearer {DEV_TOKEN}"}
REVIEW = {"Authorization": f"Bearer {REVIEW_TOKEN}"}
TOKENS = (DEV_TOKEN, REVIEW_TOKEN, OPERATOR_TOKEN)
DECISIONS = [
    {"type": "HUMAN_GATE_APPROVED", "decidedBy": "mallory"},
    {"type": "HUMAN_GATE_REJECTED", "decidedBy": "mallory"},
    {"type": "ISSUE_REQUEUED", "decidedBy": "mallory"},
    {"type": "ISSUE_CLOSED", "decidedBy": "mallory"},
]
ISSUE = {"repo": REPO, "issueNumber": 1}


@pytest.fixture
async def tokens_api(store: PostgresEventStore, clock: FakeClock) -> AsyncIterator[TestClient]:
    """The API in the tokens mode: two agents and the operator carol."""
    credentials = Credentials.parse(agents=f"dev-e-1={DEV_TOKEN},review-e={REVIEW_TOKEN}",
                                    operators=f"carol={OPERATOR_TOKEN}")
    app = create_app(ApiDeps(store=store, read_models=PostgresReadModels(store.pool), clock=clock,
                             credentials=credentials))
    async with TestClient(TestServer(app)) as client:
        yield client


async def event_count(db: asyncpg.Pool) -> int:
    return int(await db.fetchval("SELECT count(*) FROM mt_events"))


async def open_gate(api: TestClient, headers: dict[str, str] | None = None) -> None:
    for body in ({"type": "ISSUE_APPROVED", **ISSUE}, {"type": "HUMAN_GATE_TRIGGERED", **ISSUE, "reason": "auth"}):
        assert (await api.post("/api/events", json=body, headers=headers)).status == 201


@pytest.mark.parametrize("decision", DECISIONS, ids=lambda d: d["type"])
async def test_open_mode_a_decision_without_an_operator_token_is_401_and_stores_nothing(
        api: TestClient, db: asyncpg.Pool, decision: dict) -> None:
    await open_gate(api)
    before = await event_count(db)
    resp = await api.post("/api/events", json={**decision, **ISSUE})
    assert resp.status == 401 and resp.headers["WWW-Authenticate"].startswith("Bearer")
    body = await resp.json()
    assert body["error"] == "operator_required" and "Discord" in body["message"] and "operator" in body["message"]
    assert await event_count(db) == before


@pytest.mark.parametrize("decision", DECISIONS, ids=lambda d: d["type"])
async def test_tokens_mode_an_agents_decision_is_403_and_stores_nothing(
        tokens_api: TestClient, db: asyncpg.Pool, decision: dict) -> None:
    await open_gate(tokens_api, DEV)
    before = await event_count(db)
    resp = await tokens_api.post("/api/events", json={**decision, **ISSUE}, headers=DEV)
    assert resp.status == 403 and (await resp.json())["error"] == "operator_required"
    assert await event_count(db) == before


async def test_an_operators_decision_is_recorded_as_the_operator(api: TestClient, db: asyncpg.Pool) -> None:
    await open_gate(api)
    forged = {"type": "HUMAN_GATE_APPROVED", **ISSUE, "decidedBy": "mallory", "DecidedVia": "discord",
              "decider_id": "1234"}
    resp = await api.post("/api/events", json=forged, headers=OPERATOR)
    assert resp.status == 201, await resp.text()
    data = await db.fetchval("SELECT data FROM mt_events WHERE type = 'human_gate_approved'")
    assert (data["DecidedBy"], data["DecidedVia"], data["DeciderId"]) == ("carol", "api", "carol")
    gate = (await (await api.get(f"/api/issues/{REPO}/1")).json())["gate"]
    assert (gate["open"], gate["decidedBy"]) == (False, "carol")
    # decidedBy may be left out: the operator's token says who decides.
    await post(api, {"type": "ESCALATED", **ISSUE, "reason": "r"})
    resp = await api.post("/api/events", json={"type": "ISSUE_CLOSED", **ISSUE}, headers=OPERATOR)
    assert resp.status == 201
    assert (await (await api.get("/api/events/stream", params={"id": f"{REPO}#1"})).json())[-1]["decidedBy"] == "carol"


async def test_open_mode_a_wrong_token_is_401_and_other_routes_stay_open(api: TestClient) -> None:
    resp = await api.get("/api/issues", headers={"Authorization": "Bearer not-a-token-at-all"})
    assert resp.status == 401 and (await resp.json())["error"] == "invalid_credential"
    assert 'error="invalid_token"' in resp.headers["WWW-Authenticate"]
    assert (await api.get("/api/issues", headers={"Authorization": "Basic Y2Fyb2w6eA=="})).status == 401
    assert (await api.get("/api/issues")).status == 200
    await post(api, {"type": "HEARTBEAT", "agentId": "anyone"})


async def test_tokens_mode_every_route_but_health_needs_a_valid_token(tokens_api: TestClient) -> None:
    assert (await tokens_api.get("/health")).status == 200
    assert (await tokens_api.head("/health")).status == 200
    requests = [("GET", "/api/issues"), ("GET", "/api/agents"), ("GET", "/api/queue"), ("GET", "/api/events"),
                ("GET", "/api/events/stream?id=a/b%231"), ("GET", "/api/assignments/next?agentId=dev-e-1"),
                ("POST", "/api/assignments/next?agentId=dev-e-1"), ("POST", "/api/events"),
                ("GET", "/api/no-such-route"), ("DELETE", "/health")]
    for method, path in requests:
        for headers in ({}, {"Authorization": f"Bearer {DEV_TOKEN}x"}, {"Authorization": "Bearer"}):
            resp = await tokens_api.request(method, path, headers=headers, json={"type": "HEARTBEAT",
                                                                                 "agentId": "dev-e-1"})
            assert resp.status == 401, (method, path, headers, resp.status)
            assert resp.headers["WWW-Authenticate"].startswith("Bearer")
            assert (await resp.json())["error"] in ("missing_credential", "invalid_credential")
    for headers in (DEV, REVIEW, OPERATOR):
        assert (await tokens_api.get("/api/issues", headers=headers)).status == 200


async def test_tokens_mode_an_agent_posts_only_for_itself_and_its_pods(tokens_api: TestClient,
                                                                       db: asyncpg.Pool) -> None:
    for agent_id in ("dev-e-1", "dev-e-1/abc12"):
        resp = await tokens_api.post("/api/events", json={"type": "HEARTBEAT", "agentId": agent_id}, headers=DEV)
        assert resp.status == 201
    before = await event_count(db)
    for body in ({"type": "HEARTBEAT", "agentId": "review-e"}, {"type": "HEARTBEAT", "agentId": "dev-e-10"},
                 {"type": "ISSUE_ASSIGNED", **ISSUE, "agentId": "review-e"},
                 {"type": "AGENT_STUCK", **ISSUE, "agentId": "review-e/pod1"},
                 {"type": "TOOL_USED", "agentId": "review-e", "toolName": "Bash"}):
        resp = await tokens_api.post("/api/events", json=body, headers=DEV)
        assert resp.status == 403, body
        answer = await resp.json()
        assert answer["error"] == "wrong_agent" and "dev-e-1" in answer["message"]
    assert await event_count(db) == before
    # Events that name no agent are fine; an operator may post for anyone.
    assert (await tokens_api.post("/api/events", json={"type": "CI_PASSED", **ISSUE}, headers=REVIEW)).status == 201
    assert (await tokens_api.post("/api/events", json={"type": "HEARTBEAT", "agentId": "review-e"},
                                  headers=OPERATOR)).status == 201


async def test_tokens_mode_an_agent_claims_only_for_itself(tokens_api: TestClient) -> None:
    for n in (1, 2, 3):
        await post_with(tokens_api, {"type": "ISSUE_APPROVED", "repo": REPO, "issueNumber": n}, OPERATOR)
    refused = await tokens_api.get("/api/assignments/next", params={"agentId": "review-e"}, headers=DEV)
    assert refused.status == 403 and (await refused.json())["error"] == "wrong_agent"
    mine = await (await tokens_api.get("/api/assignments/next", headers=DEV)).json()  # no agentId: its own
    assert mine["assignedAgent"] == "dev-e-1" and mine["claimed"] is True
    pod = await (await tokens_api.post("/api/assignments/next", json={"agentId": "dev-e-1/abc12"},
                                       headers=DEV)).json()
    assert pod["issueNumber"] == mine["issueNumber"] and pod["claimed"] is False
    for_review = await (await tokens_api.get("/api/assignments/next", params={"agentId": "review-e"},
                                             headers=OPERATOR)).json()
    assert for_review["assignedAgent"] == "review-e"


async def post_with(api: TestClient, body: dict, headers: dict[str, str]) -> None:
    resp = await api.post("/api/events", json=body, headers=headers)
    assert resp.status == 201, await resp.text()


async def test_head_never_claims(api: TestClient) -> None:
    assert (await api.head("/api/assignments/next", params={"agentId": "dev-e-1"})).status == 204
    await approve(api, 1)
    for _ in range(3):
        assert (await api.head("/api/assignments/next", params={"agentId": "dev-e-1"})).status == 200
    assert await types_on(api, 1) == ["ISSUE_APPROVED"]
    claimed = await api.get("/api/assignments/next", params={"agentId": "dev-e-1"})  # GET still claims
    assert claimed.status == 200 and await types_on(api, 1) == ["ISSUE_APPROVED", "ISSUE_ASSIGNED"]
    assert (await api.head("/api/assignments/next", params={"agentId": "dev-e-1"})).status == 200  # held
    assert (await api.head("/api/assignments/next", params={"agentId": "dev-e-2"})).status == 204
    assert await types_on(api, 1) == ["ISSUE_APPROVED", "ISSUE_ASSIGNED"]


async def test_tokens_never_reach_the_logs_or_the_answers(tokens_api: TestClient,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    answers: list[str] = []
    for headers in (DEV, REVIEW, OPERATOR, {"Authorization": f"Bearer {DEV_TOKEN}x"},
                    {"Authorization": f"Basic {DEV_TOKEN}"}):
        for method, path, body in (("POST", "/api/events", {"type": "HUMAN_GATE_APPROVED", **ISSUE}),
                                   ("POST", "/api/events", {"type": "HEARTBEAT", "agentId": "review-e"}),
                                   ("GET", "/api/assignments/next?agentId=review-e", None),
                                   ("GET", "/api/nowhere", None)):
            resp = await tokens_api.request(method, path, json=body, headers=headers)
            answers.append(f"{resp.status} {dict(resp.headers)} {await resp.text()}")
    credentials = Credentials.parse(agents=f"dev-e-1={DEV_TOKEN}", operators=f"carol={OPERATOR_TOKEN}")
    seen = caplog.text + "\n".join(answers) + repr(credentials)
    assert caplog.records  # the requests above were logged about at all
    for token in TOKENS:
        assert token not in seen
