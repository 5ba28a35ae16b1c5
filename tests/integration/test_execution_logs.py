"""Execution logs: the agent runtime's calls byte for byte against the running service, reads,
bounds, refusals that store nothing, and who may add to a run."""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.credentials import Credentials
from bot.http.app import create_app
from bot.http.app_keys import ApiDeps
from bot.runtime import Service
from bot.settings import Settings
from eventstore import executions
from eventstore.postgres.read_models import PostgresReadModels
from eventstore.postgres.rebuild import rebuild_documents
from eventstore.postgres.store import PostgresEventStore
from eventstore.projections import execution_log
from eventstore.projections.projector import DOCUMENT_TYPES, RigProjector

from ..conftest import OPERATOR, OPERATOR_TOKEN, TEST_CREDENTIALS, FakeClock
from .test_no_500 import ODD_TEXT, VALUES, raw_exchange

JSON = {"Content-Type": "application/json"}
# What the runtime sends (JSON.stringify of its objects), byte for byte.
START = (b'{"repo":"dashecorp/conductor-e","issueNumber":42,"agentId":"dev-e-1","status":"running",'
         b'"model":"claude-sonnet-4","steps":[{"type":"setup","status":"completed","detail":"cloned repo"}]}')
STEP = b'{"type":"llm","status":"completed","detail":"implemented the endpoint","costUsd":0.42,"turns":12}'
LOGS = (b'[{"timestamp":"2026-12-01T10:00:00.000Z","level":"info","message":"starting claude"},'
        b'{"timestamp":"2026-12-01T10:00:05.000Z","level":"error","message":"tool failed: exit 1"}]')
COMPLETE = (b'{"status":"completed","totalCostUsd":1.25,"totalTurns":42,"totalInputTokens":120000,'
            b'"totalOutputTokens":8000,"cacheReadTokens":90000,"cacheCreationTokens":5000,'
            b'"durationApiMs":183000,"prNumber":88}')
FAILED = b'{"status":"failed"}'


@pytest.fixture
async def service(db: asyncpg.Pool, pg_server_dsn: str) -> AsyncIterator[str]:
    """The whole service, API-only, on a free port: its base URL."""
    settings = Settings(host="127.0.0.1", port=0, credentials=TEST_CREDENTIALS)
    async with Service(settings, dsn=pg_server_dsn) as running:
        yield f"http://127.0.0.1:{running.port}"


async def send(http: aiohttp.ClientSession, url: str, body: bytes) -> tuple[int, dict]:
    async with http.post(url, data=body, headers=JSON) as resp:
        return resp.status, await resp.json()


async def test_the_runtimes_calls_byte_for_byte(service: str, db: asyncpg.Pool) -> None:
    async with aiohttp.ClientSession() as http:
        status, started = await send(http, f"{service}/api/execution-logs", START)
        assert status == 201, started
        run = started["id"]
        assert (started["status"], started["agentId"], started["repo"], started["issueNumber"]) == \
            ("running", "dev-e-1", "dashecorp/conductor-e", 42)
        base = f"{service}/api/execution-logs/{run}"
        assert (await send(http, f"{base}/steps", STEP))[0] == 201
        status, logged = await send(http, f"{base}/logs", LOGS)
        assert status == 201 and (logged["accepted"], logged["dropped"], logged["logLines"]) == (2, 0, 2)
        status, done = await send(http, f"{base}/complete", COMPLETE)
        assert status == 201 and done["duplicate"] is False
        async with http.get(base) as resp:
            assert resp.status == 200
            body = await resp.json()
    assert body["status"] == "completed" and body["model"] == "claude-sonnet-4"
    assert body["steps"] == [
        {"type": "setup", "status": "completed", "detail": "cloned repo", "costUsd": None, "turns": None},
        {"type": "llm", "status": "completed", "detail": "implemented the endpoint", "costUsd": 0.42, "turns": 12}]
    assert body["logs"] == [
        {"timestamp": "2026-12-01T10:00:00.000Z", "level": "info", "message": "starting claude"},
        {"timestamp": "2026-12-01T10:00:05.000Z", "level": "error", "message": "tool failed: exit 1"}]
    assert (body["totalCostUsd"], body["totalTurns"], body["totalInputTokens"], body["totalOutputTokens"],
            body["cacheReadTokens"], body["cacheCreationTokens"], body["durationApiMs"], body["prNumber"]) == \
        (1.25, 42, 120000, 8000, 90000, 5000, 183000, 88)
    assert body["startedAt"] <= body["updatedAt"] and body["completedAt"] is not None
    # Event-sourced: the run's stream holds what was reported, and the document is its fold.
    types = [r["type"] for r in await db.fetch("SELECT type FROM mt_events WHERE stream_id = $1 ORDER BY version",
                                               f"execution#{run}")]
    assert types == ["execution_started", "execution_step_recorded", "execution_logs_appended", "execution_completed"]
    assert await db.fetchval("SELECT type FROM mt_streams WHERE id = $1", f"execution#{run}") == "execution_log"


async def test_a_bare_failure_and_a_repeated_completion(api: TestClient, db: asyncpg.Pool) -> None:
    run = (await (await api.post("/api/execution-logs", data=START, headers=JSON)).json())["id"]
    first = await api.post(f"/api/execution-logs/{run}/complete", data=FAILED, headers=JSON)
    assert first.status == 201 and (await first.json())["status"] == "failed"
    events = await db.fetchval("SELECT count(*) FROM mt_events")
    again = await api.post(f"/api/execution-logs/{run}/complete", data=FAILED, headers=JSON)  # a retry
    assert again.status == 200 and (await again.json())["duplicate"] is True
    other = await api.post(f"/api/execution-logs/{run}/complete", data=COMPLETE, headers=JSON)
    assert other.status == 409 and (await other.json())["error"] == "already_completed"
    assert await db.fetchval("SELECT count(*) FROM mt_events") == events
    # Lines a runtime flushes after completing are still kept.
    assert (await api.post(f"/api/execution-logs/{run}/logs", data=LOGS, headers=JSON)).status == 201


async def test_unknown_or_malformed_ids_are_404_and_store_nothing(api: TestClient, db: asyncpg.Pool) -> None:
    unknown = "0190b7e0-0000-7000-8000-000000000000"
    for run in (unknown, "nope", "1", "%00", "0190b7e0-0000-7000-8000-00000000000x"):
        for path, body in (("steps", STEP), ("logs", LOGS), ("complete", COMPLETE)):
            resp = await api.post(f"/api/execution-logs/{run}/{path}", data=body, headers=JSON)
            assert resp.status == 404 and (await resp.json())["error"] == "execution_not_found", (run, path)
        resp = await api.get(f"/api/execution-logs/{run}")
        assert resp.status == 404 and (await resp.json())["error"] == "execution_not_found"
    assert await db.fetchval("SELECT count(*) FROM mt_events") == 0


@pytest.mark.parametrize(("path", "body", "status", "error"), [
    ("", b'{"repo":"o/r","issueNumber":1}', 422, "invalid_fields"),  # no agentId
    ("", b'{"agentId":"dev-e-1","steps":"many"}', 422, "invalid_fields"),
    ("", b'{"agentId":"dev e 1"}', 422, "invalid_fields"),
    ("", b'[1, 2]', 400, "invalid_body"),
    ("", b'{"agentId":', 400, "malformed_json"),
    ("", b'{"agentId":"dev-e-1","status":NaN}', 400, "malformed_json"),
    ("/steps", b'[]', 400, "invalid_body"),
    ("/steps", b'{"costUsd":-1}', 422, "invalid_fields"),
    ("/logs", b'{"message":"x"}', 400, "invalid_body"),
    ("/logs", b'[{"level":"info"}]', 422, "invalid_fields"),  # no message
    ("/logs", b'[{"message":{"a":1}}]', 422, "invalid_fields"),
    ("/complete", b'{}', 422, "invalid_fields"),  # no status
    ("/complete", b'{"status":"completed","totalTurns":-3}', 422, "invalid_fields"),
    ("/complete", b'"failed"', 400, "invalid_body"),
])
async def test_bad_input_is_a_clear_4xx_and_stores_nothing(api: TestClient, db: asyncpg.Pool, path: str, body: bytes,
                                                           status: int, error: str) -> None:
    run = (await (await api.post("/api/execution-logs", data=START, headers=JSON)).json())["id"]
    before = await db.fetchval("SELECT count(*) FROM mt_events")
    url = "/api/execution-logs" + (f"/{run}{path}" if path else "")
    resp = await api.post(url, data=body, headers=JSON)
    answer = await resp.json()
    assert (resp.status, answer["error"]) == (status, error), answer
    assert await db.fetchval("SELECT count(*) FROM mt_events") == before


async def test_both_casings_nul_and_long_text(api: TestClient) -> None:
    resp = await api.post("/api/execution-logs", json={"Repo": "o/r", "IssueNumber": None, "AgentId": "dev-e-1/abc12",
                                                       "Model": "m", "Steps": [{"Type": "setup", "Status": "ok"}]})
    assert resp.status == 201, await resp.text()
    run = await resp.json()
    assert (run["issueNumber"], run["agent"], run["steps"][0]["type"]) == (0, "dev-e-1", "setup")
    resp = await api.post(f"/api/execution-logs/{run['id']}/logs",
                          json=[{"Timestamp": 1764583200000, "Level": "warn", "Message": "bin\u0000ary " + "x" * 9000}])
    answer = await resp.json()
    assert resp.status == 201 and answer["warnings"] == ["NUL replaced with U+FFFD"]
    line = (await (await api.get(f"/api/execution-logs/{run['id']}")).json())["logs"][0]
    assert line["timestamp"] == 1764583200000 and line["message"].startswith("bin\ufffdary x")
    assert len(line["message"]) == 4000  # cut to the bound of one diagnostic text
    empty = await api.post(f"/api/execution-logs/{run['id']}/logs", json=[])
    assert empty.status == 200 and (await empty.json())["accepted"] == 0


async def test_a_runs_bounds(api: TestClient, db: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(executions, "MAX_LOG_LINES", 5)
    monkeypatch.setattr(executions, "MAX_STEPS", 2)
    monkeypatch.setattr(execution_log, "KEPT_LOG_LINES", 3)
    run = (await (await api.post("/api/execution-logs", data=START, headers=JSON)).json())["id"]  # 1 step
    lines = [{"level": "info", "message": f"line {n}"} for n in range(1, 5)]
    first = await (await api.post(f"/api/execution-logs/{run}/logs", json=lines)).json()
    assert (first["accepted"], first["dropped"], first["logLines"]) == (4, 0, 4)
    second = await (await api.post(f"/api/execution-logs/{run}/logs", json=lines)).json()
    assert (second["accepted"], second["dropped"], second["logLines"]) == (1, 3, 5)  # the lines that fit
    full = await api.post(f"/api/execution-logs/{run}/logs", json=lines)
    assert full.status == 409 and (await full.json())["error"] == "log_limit_reached"
    doc = await (await api.get(f"/api/execution-logs/{run}")).json()
    assert [line["message"] for line in doc["logs"]] == ["line 3", "line 4", "line 1"]  # the latest 3 of 5
    assert (await api.post(f"/api/execution-logs/{run}/steps", data=STEP, headers=JSON)).status == 201
    refused = await api.post(f"/api/execution-logs/{run}/steps", data=STEP, headers=JSON)
    assert refused.status == 409 and (await refused.json())["error"] == "step_limit_reached"
    stored = await db.fetchval("SELECT sum(jsonb_array_length(data->'Lines')) FROM mt_events "
                               "WHERE type = 'execution_logs_appended'")
    assert stored == 5


async def start_run(api: TestClient, agent_id: str, repo: str, number: int, **extra: object) -> str:
    resp = await api.post("/api/execution-logs", json={"agentId": agent_id, "repo": repo, "issueNumber": number,
                                                       **extra})
    assert resp.status == 201, await resp.text()
    return str((await resp.json())["id"])


async def test_listed_newest_first_paged_and_filtered(api: TestClient, clock: FakeClock) -> None:
    ids = []
    for n, agent in enumerate(["dev-e-1", "dev-e-1/abc12", "dev-e-2", "dev-e-1/zz9x1", "dev-e-10"]):
        ids.append(await start_run(api, agent, "acme/app", 7 if n < 3 else 8))
        clock.advance(seconds=30)
    resp = await api.get("/api/execution-logs", params={"limit": "2"})
    assert resp.status == 200 and resp.headers["X-Total-Count"] == "5"
    assert [r["id"] for r in await resp.json()] == ids[::-1][:2]
    assert 'rel="next"' in resp.headers["Link"] and "page=2" in resp.headers["Link"]
    third = await (await api.get("/api/execution-logs", params={"limit": "2", "page": "3"})).json()
    assert [r["id"] for r in third] == [ids[0]]
    issue7 = await (await api.get("/api/execution-logs", params={"repo": "acme/app", "issueNumber": "7"})).json()
    assert [r["id"] for r in issue7] == [ids[2], ids[1], ids[0]] and "logs" not in issue7[0]
    agent = await (await api.get("/api/execution-logs", params={"agentId": "dev-e-1"})).json()
    assert [r["id"] for r in agent] == [ids[3], ids[1], ids[0]]  # the agent's pods too, not dev-e-10
    pod = await (await api.get("/api/execution-logs", params={"agentId": "dev-e-1/abc12"})).json()
    assert [r["id"] for r in pod] == [ids[1]]
    both = await (await api.get("/api/execution-logs", params={"repo": "acme/app", "issueNumber": "8",
                                                              "agentId": "dev-e-10"})).json()
    assert [r["id"] for r in both] == [ids[4]]
    assert await (await api.get("/api/execution-logs", params={"repo": "other/x"})).json() == []
    for bad in ({"issueNumber": "x"}, {"issueNumber": "0"}, {"limit": "0"}, {"page": "-1"}, {"agentId": "a\x00"}):
        assert (await api.get("/api/execution-logs", params=bad)).status == 400, bad


DEV_TOKEN = "dev-e-1-token-aaaaaaaaaaaaaaaa"
REVIEW_TOKEN = "review-e-token-bbbbbbbbbbbbbbbb"
DEV = {"Authorization": f"Bearer {DEV_TOKEN}"}
REVIEW = {"Authorization": f"Bearer {REVIEW_TOKEN}"}


@pytest.fixture
async def tokens_api(store: PostgresEventStore, clock: FakeClock) -> AsyncIterator[TestClient]:
    credentials = Credentials.parse(agents=f"dev-e-1={DEV_TOKEN},review-e={REVIEW_TOKEN}",
                                    operators=f"carol={OPERATOR_TOKEN}")
    app = create_app(ApiDeps(store=store, read_models=PostgresReadModels(store.pool), clock=clock,
                             credentials=credentials))
    async with TestClient(TestServer(app)) as client:
        yield client


async def test_an_agent_adds_only_to_its_own_runs(tokens_api: TestClient, db: asyncpg.Pool) -> None:
    assert (await tokens_api.post("/api/execution-logs", data=START, headers=JSON)).status == 401
    wrong = await tokens_api.post("/api/execution-logs", data=START, headers={**JSON, **REVIEW})
    assert wrong.status == 403 and (await wrong.json())["error"] == "wrong_agent"
    resp = await tokens_api.post("/api/execution-logs", data=START.replace(b'"dev-e-1"', b'"dev-e-1/abc12"'),
                                 headers={**JSON, **DEV})
    assert resp.status == 201
    run = (await resp.json())["id"]
    before = await db.fetchval("SELECT count(*) FROM mt_events")
    for path, body in (("steps", STEP), ("logs", LOGS), ("complete", COMPLETE)):
        refused = await tokens_api.post(f"/api/execution-logs/{run}/{path}", data=body, headers={**JSON, **REVIEW})
        assert refused.status == 403 and (await refused.json())["error"] == "wrong_agent"
    assert await db.fetchval("SELECT count(*) FROM mt_events") == before
    assert (await tokens_api.post(f"/api/execution-logs/{run}/steps", data=STEP, headers={**JSON, **DEV})).status == 201
    assert (await tokens_api.post(f"/api/execution-logs/{run}/logs", data=LOGS, headers={**JSON, **OPERATOR})).status \
        == 201
    assert (await tokens_api.get(f"/api/execution-logs/{run}", headers=REVIEW)).status == 200  # reads: any token
    assert (await tokens_api.get("/api/execution-logs")).status == 401


async def test_api_events_does_not_take_execution_events(api: TestClient, db: asyncpg.Pool) -> None:
    resp = await api.post("/api/events", json={"type": "EXECUTION_COMPLETED", "executionId": "x", "status": "done"})
    answer = await resp.json()
    assert resp.status == 400 and answer["error"] == "unknown_event_type" and "/api/execution-logs" in answer["message"]
    assert await db.fetchval("SELECT count(*) FROM mt_events") == 0


async def test_rebuild_projections_yields_the_same_runs_and_learnings(api: TestClient, db: asyncpg.Pool) -> None:
    run = (await (await api.post("/api/execution-logs", data=START, headers=JSON)).json())["id"]
    for path, body in (("steps", STEP), ("logs", LOGS), ("complete", COMPLETE)):
        assert (await api.post(f"/api/execution-logs/{run}/{path}", data=body, headers=JSON)).status == 201
    assert (await api.post("/api/repo-learnings", json={"repo": "o/r", "key": "k", "value": "v"})).status == 201

    async def snapshot() -> list:
        return [await db.fetch(f"SELECT id, data FROM {t} ORDER BY id") for t in ("mt_doc_executionlog",
                                                                                "mt_doc_repolearnings")]

    before = await snapshot()
    async with db.acquire() as conn:
        await conn.execute("DELETE FROM mt_doc_executionlog")
        await rebuild_documents(conn, RigProjector(), DOCUMENT_TYPES)
    assert await snapshot() == before and len(before[0]) == 1 and len(before[1]) == 1


async def test_no_odd_request_to_these_routes_gets_a_500(api: TestClient) -> None:
    run = (await (await api.post("/api/execution-logs", data=START, headers=JSON)).json())["id"]
    routes = [("POST", "/api/execution-logs"), ("GET", "/api/execution-logs"), ("GET", "/api/execution-logs/{x}"),
              ("POST", "/api/execution-logs/{x}/steps"), ("POST", "/api/execution-logs/{x}/logs"),
              ("POST", "/api/execution-logs/{x}/complete"), ("POST", "/api/agent-logs"), ("GET", "/api/agent-logs"),
              ("POST", "/api/repo-learnings"), ("GET", "/api/repo-learnings")]
    params = ["repo", "issueNumber", "agentId", "limit", "page", "before"]
    fields = ["repo", "Repo", "issueNumber", "agentId", "AgentId", "status", "model", "steps", "type", "detail",
              "costUsd", "turns", "timestamp", "level", "message", "entries", "key", "value", "totalCostUsd",
              "totalTurns", "durationApiMs", "prNumber", "executionId"]
    rng = random.Random(20261201)
    for _ in range(400):
        method, template = rng.choice(routes)
        path = template.replace("{x}", rng.choice([run, run, *ODD_TEXT]) or "x")
        if rng.random() < 0.6:
            path += "?" + "&".join(f"{rng.choice(params)}={rng.choice(ODD_TEXT)}" for _ in range(rng.randrange(1, 4)))
        body = b""
        if method == "POST":
            item = {rng.choice(fields): rng.choice(VALUES) for _ in range(rng.randrange(6))}
            shape = rng.random()
            value: object = [item, dict(item)] if shape < 0.3 else item if shape < 0.9 else rng.choice(VALUES)
            if rng.random() < 0.3:
                value = {"agentId": "dev-e-1", "entries": [item]}
            body = json.dumps(value).encode()
        raw = (method.encode() + b" " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
               b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        status, answer = await raw_exchange(api, raw)
        assert status < 500, (raw, answer[:600])
    for path in ("/api/execution-logs?agentId=dev-%ED%A0%80", "/api/execution-logs?repo=o/%ED%A0%80",
                 "/api/agent-logs?agentId=dev-%ED%A0%80", "/api/repo-learnings?repo=o/%ED%A0%80",
                 "/api/agent-logs?agentId=dev-%FF", f"/api/execution-logs/{run}%ED%A0%80"):
        status, answer = await raw_exchange(api, b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n"
                                            b"Connection: close\r\n\r\n")
        assert status in (200, 400, 404), (path, status, answer)
