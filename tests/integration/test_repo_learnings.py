"""Repo learnings: the runtime's calls byte for byte against the running service, the latest value
per key with who set it and when, refusals that store nothing, and who may set them."""

from __future__ import annotations

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
from eventstore import learnings
from eventstore.postgres.read_models import PostgresReadModels
from eventstore.postgres.store import PostgresEventStore

from ..conftest import OPERATOR, OPERATOR_TOKEN, TEST_CREDENTIALS, FakeClock

JSON = {"Content-Type": "application/json"}
SET = b'{"repo":"dashecorp/conductor-e","key":"build-system","value":"Node.js (package.json)","agentId":"dev-e-1"}'


async def events(db: asyncpg.Pool) -> int:
    return int(await db.fetchval("SELECT count(*) FROM mt_events"))


async def test_the_runtimes_calls_byte_for_byte(db: asyncpg.Pool, pg_server_dsn: str) -> None:
    settings = Settings(host="127.0.0.1", port=0, credentials=TEST_CREDENTIALS)
    async with Service(settings, dsn=pg_server_dsn) as service, aiohttp.ClientSession() as http:
        url = f"http://127.0.0.1:{service.port}/api/repo-learnings"
        async with http.post(url, data=SET, headers=JSON) as resp:
            assert resp.status == 201
            answer = await resp.json()
        async with http.get(f"{url}?repo=dashecorp/conductor-e") as resp:
            assert resp.status == 200
            listed = await resp.json()
    assert (answer["key"], answer["value"], answer["setBy"], answer["changed"]) == \
        ("build-system", "Node.js (package.json)", "dev-e-1", True)
    # What the runtime renders into its prompt: "- **key**: value"
    assert [f"- **{item['key']}**: {item['value']}" for item in listed] == ["- **build-system**: Node.js (package.json)"]
    assert listed[0]["setBy"] == "dev-e-1" and listed[0]["updatedAt"].endswith("Z")
    assert await db.fetchval("SELECT type FROM mt_events WHERE stream_id = 'dashecorp/conductor-e#learnings'") == \
        "repo_learning_recorded"


async def test_the_latest_value_per_key_and_who_set_it(api: TestClient, db: asyncpg.Pool, clock: FakeClock) -> None:
    async def put(body: dict, headers: dict | None = None) -> tuple[int, dict]:
        resp = await api.post("/api/repo-learnings", json=body, headers=headers)
        return resp.status, await resp.json()

    assert (await put({"repo": "o/r", "key": "test-command", "value": "npm test", "agentId": "dev-e-1"}))[0] == 201
    clock.advance(minutes=5)
    assert (await put({"Repo": "o/r", "Key": "build-system", "Value": "Node.js", "AgentId": "dev-e-2/abc12"}))[0] == 201
    before = await events(db)
    status, same = await put({"repo": "o/r", "key": "test-command", "value": "npm test", "agentId": "dev-e-9"})
    assert status == 200 and same["changed"] is False and same["setBy"] == "dev-e-1"  # stored nothing, kept the first
    assert await events(db) == before
    clock.advance(minutes=5)
    status, changed = await put({"repo": "o/r", "key": "test-command", "value": "pnpm test"}, OPERATOR)
    assert status == 201 and changed["setBy"] == "carol"  # an operator, naming no agent
    listed = await (await api.get("/api/repo-learnings", params={"repo": "o/r"})).json()
    assert [(i["key"], i["value"], i["setBy"]) for i in listed] == [("build-system", "Node.js", "dev-e-2/abc12"),
                                                                   ("test-command", "pnpm test", "carol")]
    assert listed[0]["updatedAt"] < listed[1]["updatedAt"]
    assert await (await api.get("/api/repo-learnings", params={"repo": "o/other"})).json() == []


@pytest.mark.parametrize("query", ["", "?repo=", "?repo=%20", "?repo=noslash", "?repo=a/b%23c", "?repo=a%00/b",
                                   "?repo=a b/c", "?other=o/r"])
async def test_a_missing_or_invalid_repo_is_400(api: TestClient, query: str) -> None:
    resp = await api.get(f"/api/repo-learnings{query}")
    assert resp.status == 400 and (await resp.json())["error"] in ("invalid_query",), query


@pytest.mark.parametrize(("body", "status", "error"), [
    (b'{"key":"k","value":"v"}', 422, "invalid_fields"),  # no repo
    (b'{"repo":"noslash","key":"k","value":"v"}', 422, "invalid_fields"),
    (b'{"repo":"o/r","key":"  ","value":"v"}', 422, "invalid_fields"),
    (b'{"repo":"o/r","key":"k"}', 422, "invalid_fields"),  # no value
    (b'{"repo":"o/r","key":"k","value":7}', 422, "invalid_fields"),
    (b'{"repo":"o/r","key":"k","value":"a\\u0000b"}', 422, "invalid_text"),
    (b'{"repo":"o/r","key":"k","value":"v","agentId":"#1"}', 422, "invalid_fields"),
    (b'["o/r","k","v"]', 400, "invalid_body"),
    (b'{"repo":', 400, "malformed_json"),
])
async def test_bad_input_is_a_clear_4xx_and_stores_nothing(api: TestClient, db: asyncpg.Pool, body: bytes,
                                                           status: int, error: str) -> None:
    resp = await api.post("/api/repo-learnings", data=body, headers=JSON)
    assert (resp.status, (await resp.json())["error"]) == (status, error)
    assert await events(db) == 0


async def test_a_repo_keeps_a_bounded_number_of_keys(api: TestClient, db: asyncpg.Pool,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(learnings, "MAX_LEARNINGS", 2)
    for key in ("a", "b"):
        assert (await api.post("/api/repo-learnings", json={"repo": "o/r", "key": key, "value": "1"})).status == 201
    before = await events(db)
    refused = await api.post("/api/repo-learnings", json={"repo": "o/r", "key": "c", "value": "1"})
    assert refused.status == 409 and (await refused.json())["error"] == "too_many_learnings"
    assert await events(db) == before
    assert (await api.post("/api/repo-learnings", json={"repo": "o/r", "key": "a", "value": "2"})).status == 201


@pytest.fixture
async def tokens_api(store: PostgresEventStore, clock: FakeClock) -> AsyncIterator[TestClient]:
    credentials = Credentials.parse(agents="dev-e-1=dev-e-1-token-aaaaaaaaaaaaaaaa",
                                    operators=f"carol={OPERATOR_TOKEN}")
    app = create_app(ApiDeps(store=store, read_models=PostgresReadModels(store.pool), clock=clock,
                             credentials=credentials))
    async with TestClient(TestServer(app)) as client:
        yield client


async def test_an_agent_sets_learnings_as_itself(tokens_api: TestClient, db: asyncpg.Pool) -> None:
    dev = {"Authorization": "Bearer dev-e-1-token-aaaaaaaaaaaaaaaa"}
    assert (await tokens_api.post("/api/repo-learnings", data=SET, headers=JSON)).status == 401
    other = SET.replace(b'"dev-e-1"', b'"review-e"')
    wrong = await tokens_api.post("/api/repo-learnings", data=other, headers={**JSON, **dev})
    assert wrong.status == 403 and (await wrong.json())["error"] == "wrong_agent" and await events(db) == 0
    unnamed = await tokens_api.post("/api/repo-learnings", json={"repo": "o/r", "key": "k", "value": "v"}, headers=dev)
    assert unnamed.status == 201 and (await unnamed.json())["setBy"] == "dev-e-1"
    assert (await tokens_api.get("/api/repo-learnings?repo=o/r", headers=dev)).status == 200
