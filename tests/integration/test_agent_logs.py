"""Agent logs: the runtime's post byte for byte against the running service, reads newest first,
refusals that store nothing, who may post, and retention by the scheduler's tick."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.credentials import Credentials
from bot.http.app import create_app
from bot.http.app_keys import ApiDeps
from bot.runtime import Service
from bot.scheduler import RigScheduler
from bot.settings import Settings
from eventstore.postgres.agent_logs import PostgresAgentLogs
from eventstore.postgres.read_models import PostgresReadModels
from eventstore.postgres.store import PostgresEventStore

from ..conftest import OPERATOR_TOKEN, TEST_CREDENTIALS, FakeClock

JSON = {"Content-Type": "application/json"}
POST = (b'{"agentId":"dev-e-1/abc12","entries":[{"timestamp":"2026-12-01T10:00:00.000Z","level":"info",'
        b'"message":"polling for work"},{"timestamp":"2026-12-01T10:00:02.000Z","level":"warn",'
        b'"message":"provider cooldown","provider":"openai","retryInSeconds":30}]}')


async def count(db: asyncpg.Pool) -> int:
    return int(await db.fetchval("SELECT count(*) FROM ce_agent_logs"))


async def test_the_runtimes_post_byte_for_byte(db: asyncpg.Pool, pg_server_dsn: str) -> None:
    settings = Settings(host="127.0.0.1", port=0, credentials=TEST_CREDENTIALS)
    async with Service(settings, dsn=pg_server_dsn) as service, aiohttp.ClientSession() as http:
        url = f"http://127.0.0.1:{service.port}/api/agent-logs"
        async with http.post(url, data=POST, headers=JSON) as resp:
            assert resp.status == 201 and await resp.json() == {"agentId": "dev-e-1/abc12", "accepted": 2}
        async with http.get(url, params={"agentId": "dev-e-1", "limit": "10"}) as resp:
            assert resp.status == 200
            entries = await resp.json()
    assert [e["message"] for e in entries] == ["provider cooldown", "polling for work"]  # newest first
    newest = entries[0]
    assert (newest["agentId"], newest["level"], newest["timestamp"]) == ("dev-e-1/abc12", "warn",
                                                                         "2026-12-01T10:00:02.000Z")
    assert (newest["provider"], newest["retryInSeconds"]) == ("openai", 30)  # the entry's other fields, as sent
    assert newest["receivedAt"].endswith("Z") and newest["id"] > entries[1]["id"]
    assert await db.fetchval("SELECT count(*) FROM mt_events") == 0  # diagnostics, not events


async def test_reads_by_agent_pod_limit_and_before(api: TestClient) -> None:
    for agent, n in (("dev-e-1", 3), ("dev-e-1/abc12", 2), ("dev-e-10", 1)):
        body = {"agentId": agent, "entries": [{"level": "info", "message": f"{agent} {i}"} for i in range(n)]}
        assert (await api.post("/api/agent-logs", json=body)).status == 201
    everything = await (await api.get("/api/agent-logs")).json()
    assert len(everything) == 6 and everything[0]["message"] == "dev-e-10 0"
    agent = await (await api.get("/api/agent-logs", params={"agentId": "dev-e-1"})).json()
    assert [e["message"] for e in agent] == ["dev-e-1/abc12 1", "dev-e-1/abc12 0", "dev-e-1 2", "dev-e-1 1",
                                             "dev-e-1 0"]
    pod = await (await api.get("/api/agent-logs", params={"agentId": "dev-e-1/abc12"})).json()
    assert [e["message"] for e in pod] == ["dev-e-1/abc12 1", "dev-e-1/abc12 0"]
    first = await api.get("/api/agent-logs", params={"agentId": "dev-e-1", "limit": "2"})
    assert len(await first.json()) == 2 and 'rel="next"' in first.headers["Link"]
    following = await (await api.get("/api" + first.headers["Link"].split("/api", 1)[1].split(">")[0])).json()
    assert [e["message"] for e in following] == ["dev-e-1 2", "dev-e-1 1"]
    assert await (await api.get("/api/agent-logs", params={"agentId": "nobody"})).json() == []
    for bad in ({"limit": "0"}, {"limit": "1001"}, {"limit": "x"}, {"before": "-1"}, {"agentId": "a\x00"}):
        assert (await api.get("/api/agent-logs", params=bad)).status == 400, bad


@pytest.mark.parametrize(("body", "status", "error"), [
    (b'{"entries":[]}', 422, "invalid_fields"),  # no agentId
    (b'{"agentId":"dev-e-1","entries":{"message":"x"}}', 422, "invalid_fields"),
    (b'{"agentId":"dev-e-1","entries":[{"level":"info"}]}', 422, "invalid_fields"),  # no message
    (b'{"agentId":"dev-e-1","entries":[{"message":"ok"},{"message":5}]}', 422, "invalid_fields"),
    (b'{"agentId":"/pod","entries":[]}', 422, "invalid_fields"),
    (b'[{"message":"x"}]', 400, "invalid_body"),
    (b'{"agentId":"dev-e-1","entries":[', 400, "malformed_json"),
    (b'{"agentId":"dev-e-1","entries":[{"message":"x","deep":' + b'[' * 40 + b']' * 40 + b'}]}', 400,
     "too_deeply_nested"),
])
async def test_bad_input_is_a_clear_4xx_and_stores_nothing(api: TestClient, db: asyncpg.Pool, body: bytes,
                                                           status: int, error: str) -> None:
    resp = await api.post("/api/agent-logs", data=body, headers=JSON)
    assert (resp.status, (await resp.json())["error"]) == (status, error)
    assert await count(db) == 0


async def test_nul_replaced_long_messages_cut_pascal_case_read(api: TestClient) -> None:
    resp = await api.post("/api/agent-logs", json={"AgentId": "dev-e-1", "Entries": [
        {"Timestamp": 1764583200, "Level": "error", "Message": "a\u0000b " + "x" * 5000, "Detail\u0000": "y"}]})
    assert resp.status == 201 and (await resp.json())["warnings"] == ["NUL replaced with U+FFFD"]
    [stored] = await (await api.get("/api/agent-logs")).json()
    assert stored["message"].startswith("a\ufffdb x") and len(stored["message"]) == 4000
    assert (stored["timestamp"], stored["level"], stored["Detail\ufffd"]) == (1764583200, "error", "y")


async def test_retention_is_the_schedulers_tick(api: TestClient, store: PostgresEventStore, db: asyncpg.Pool,
                                                clock: FakeClock) -> None:
    body = {"agentId": "dev-e-1", "entries": [{"message": "old"}]}
    assert (await api.post("/api/agent-logs", json=body)).status == 201
    clock.advance(days=6)
    assert (await api.post("/api/agent-logs", json={**body, "entries": [{"message": "recent"}]})).status == 201
    scheduler = RigScheduler(store, clock, heartbeat_timeout=timedelta(minutes=10),
                             reminder_interval=timedelta(minutes=30), agent_logs=PostgresAgentLogs(db),
                             log_retention=timedelta(days=7))
    await scheduler.tick()
    assert await count(db) == 2
    clock.advance(days=1, seconds=1)  # the first entry is now older than 7 days
    await scheduler.tick()
    assert [e["message"] for e in await (await api.get("/api/agent-logs")).json()] == ["recent"]


DEV_TOKEN = "dev-e-1-token-aaaaaaaaaaaaaaaa"
REVIEW = {"Authorization": "Bearer review-e-token-bbbbbbbbbbbbbbbb"}


@pytest.fixture
async def tokens_api(store: PostgresEventStore, clock: FakeClock) -> AsyncIterator[TestClient]:
    credentials = Credentials.parse(agents=f"dev-e-1={DEV_TOKEN},review-e=review-e-token-bbbbbbbbbbbbbbbb",
                                    operators=f"carol={OPERATOR_TOKEN}")
    app = create_app(ApiDeps(store=store, read_models=PostgresReadModels(store.pool), clock=clock,
                             credentials=credentials, agent_logs=PostgresAgentLogs(store.pool)))
    async with TestClient(TestServer(app)) as client:
        yield client


async def test_an_agent_posts_only_its_own_logs(tokens_api: TestClient, db: asyncpg.Pool) -> None:
    assert (await tokens_api.post("/api/agent-logs", data=POST, headers=JSON)).status == 401
    wrong = await tokens_api.post("/api/agent-logs", data=POST, headers={**JSON, **REVIEW})
    assert wrong.status == 403 and (await wrong.json())["error"] == "wrong_agent"
    assert await count(db) == 0
    own = await tokens_api.post("/api/agent-logs", data=POST, headers={**JSON, "Authorization": f"Bearer {DEV_TOKEN}"})
    assert own.status == 201  # a pod of its agent
    assert (await tokens_api.get("/api/agent-logs", headers=REVIEW)).status == 200
