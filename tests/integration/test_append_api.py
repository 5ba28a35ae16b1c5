"""POST /api/events through the real aiohttp app against real PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
from aiohttp.test_utils import TestClient


async def count_events(db: asyncpg.Pool) -> int:
    return await db.fetchval("SELECT count(*) FROM mt_events")


async def test_seed_example_answers_stream_type_timestamp(api: TestClient, db: asyncpg.Pool) -> None:
    resp = await api.post("/api/events", json={
        "type": "ISSUE_APPROVED", "repo": "dashecorp/conductor-e", "issueNumber": 42,
        "title": "feat: Add health check endpoint", "priority": "normal", "dependsOn": [],
    })
    assert resp.status == 201
    body = await resp.json()
    assert body["streamId"] == "dashecorp/conductor-e#42"
    assert body["type"] == "ISSUE_APPROVED"
    assert body["timestamp"] == "2026-04-02T06:56:22Z"
    assert body["version"] == 1 and body["sequence"] == 1
    row = await db.fetchrow("SELECT * FROM mt_events")
    assert row["type"] == "issue_approved"
    assert row["data"]["Title"] == "feat: Add health check endpoint"
    assert row["data"]["IssueNumber"] == 42
    assert row["tenant_id"] == "*DEFAULT*" and row["is_archived"] is False
    stream = await db.fetchrow("SELECT * FROM mt_streams")
    assert stream["id"] == "dashecorp/conductor-e#42" and stream["version"] == 1
    assert stream["type"] == "issue_status"


async def test_pascal_case_memory_event_without_issue_goes_to_agent_stream(api: TestClient) -> None:
    resp = await api.post("/api/events", json={
        "Type": "MEMORY_WRITE", "Repo": "", "IssueNumber": 0, "AgentId": "dev-e-1",
        "Scope": "repo", "Kind": "fact", "MemoryId": "m-1", "Tokens": 12,
    })
    assert resp.status == 201
    assert (await resp.json())["streamId"] == "dev-e-1"


async def test_idempotency_key_retry_returns_first_answer(api: TestClient, db: asyncpg.Pool) -> None:
    body = {"type": "TOOL_USED", "agentId": "dev-e-1", "repo": "o/r", "issueNumber": 1, "toolName": "Bash"}
    first = await api.post("/api/events", json=body, headers={"Idempotency-Key": "abc"})
    again = await api.post("/api/events", json=body, headers={"Idempotency-Key": "abc"})
    assert first.status == 201 and again.status == 200
    a, b = await first.json(), await again.json()
    assert a["sequence"] == b["sequence"] and a["eventId"] == b["eventId"] and b["duplicate"] is True
    assert await count_events(db) == 1


async def test_event_id_reused_for_another_event_is_a_conflict(api: TestClient, db: asyncpg.Pool) -> None:
    event_id = str(uuid.uuid4())
    ok = await api.post("/api/events", json={"type": "SMOKE_PASSED", "repo": "o/r", "issueNumber": 1,
                                             "eventId": event_id})
    clash = await api.post("/api/events", json={"type": "VERIFIED", "repo": "o/r", "issueNumber": 1,
                                                "eventId": event_id})
    assert ok.status == 201 and clash.status == 409
    assert (await clash.json())["error"] == "idempotency_conflict"
    assert await count_events(db) == 1


async def test_expected_version_conflict_is_409_and_stores_nothing(api: TestClient, db: asyncpg.Pool) -> None:
    base = {"type": "CI_PASSED", "repo": "o/r", "issueNumber": 7}
    assert (await api.post("/api/events", json={**base, "expectedVersion": 0})).status == 201
    stale = await api.post("/api/events", json={**base, "expectedVersion": 0})
    assert stale.status == 409
    body = await stale.json()
    assert body["error"] == "version_conflict" and body["actualVersion"] == 1
    assert (await api.post("/api/events", json={**base, "ExpectedVersion": 1})).status == 201
    assert await count_events(db) == 2


async def test_concurrent_appends_to_one_stream_get_gapless_versions(api: TestClient, db: asyncpg.Pool) -> None:
    body = {"type": "TOOL_USED", "agentId": "dev-e-1", "repo": "o/r", "issueNumber": 5, "toolName": "Read"}
    responses = await asyncio.gather(*(api.post("/api/events", json=body) for _ in range(200)))
    assert all(r.status == 201 for r in responses)
    versions = [r["version"] for r in await db.fetch("SELECT version FROM mt_events ORDER BY seq_id")]
    assert versions == list(range(1, 201))
    seqs = sorted([(await r.json())["sequence"] for r in responses])
    assert seqs == list(range(1, 201))


async def test_bad_inputs_get_clear_4xx_and_store_nothing(api: TestClient, db: asyncpg.Pool) -> None:
    cases = [
        (b"{not json", 400, "malformed_json"),
        (b"[1, 2]", 400, "invalid_body"),
        (b'{"repo": "o/r"}', 400, "missing_type"),
        (b'{"type": "NOPE"}', 400, "unknown_event_type"),
        (b'{"type": "ISSUE_APPROVED", "repo": "o/r"}', 422, "invalid_fields"),
        (b'{"type": "ISSUE_APPROVED", "repo": "o/r", "issueNumber": "forty"}', 422, "invalid_fields"),
        (b'{"type": "ISSUE_APPROVED", "repo": "o/r", "issueNumber": 0}', 422, "invalid_fields"),
        (b'{"type": "ISSUE_APPROVED", "repo": "no-slash", "issueNumber": 1}', 422, "invalid_fields"),
        (b'{"type": "HEARTBEAT"}', 422, "invalid_fields"),
        (b'{"type": "HEARTBEAT", "agentId": "a#1"}', 422, "invalid_fields"),
        (b'{"type": "TOOL_USED", "agentId": "a", "toolName": "x", "isMcp": "maybe"}', 422, "invalid_fields"),
        # (NUL in analytics text is replaced instead: test_analytics_kept.py)
        (b'{"type": "ISSUE_APPROVED", "repo": "o/r", "issueNumber": 1, "title": "x\\u0000"}', 422, "invalid_text"),
        # a lone surrogate escape cannot become UTF-8 text: refused by the strict parser
        (b'{"type": "TOOL_USED", "agentId": "a", "toolName": "\\ud800"}', 400, "malformed_json"),
        (b'{"type": "TOKEN_USAGE", "agentId": "a", "costUsd": "NaN"}', 422, "invalid_fields"),
        (b'{"type": "SMOKE_PASSED", "repo": "o/r", "issueNumber": 1, "eventId": "x"}', 422, "invalid_fields"),
        (b'{"type": "SMOKE_PASSED", "repo": "o/r", "issueNumber": 1, "expectedVersion": -1}', 422,
         "invalid_fields"),
        (b'\xff\xfe', 400, "malformed_json"),
        (b'{"type": "HEARTBEAT", "agentId": "a", "providers": [{"status": "ready"}]}', 422, "invalid_fields"),
        (b'{"type": "ISSUE_DONE", "repo": "o/r", "issueNumber": 1, "durationMinutes": 1e400}', 400,
         "malformed_json"),
        (b'{"type": "ISSUE_APPROVED", "repo": "o/r", "issueNumber": 100000000000000000000000}', 422,
         "invalid_fields"),
        (b'{"type": 5}', 400, "missing_type"),
        (b'{"type": "HEARTBEAT", "agentId": "a", "x": ' + b"[" * 20_000 + b"]" * 20_000 + b"}", 400,
         "too_deeply_nested"),
        # just past the service's own limit (32), far below the parser's
        (b'{"type": "HEARTBEAT", "agentId": "a", "x": ' + b"[" * 32 + b"]" * 32 + b"}", 400, "too_deeply_nested"),
        (b'{"type": "HEARTBEAT", "agentId": "a", "x": ' + b'{"a":' * 900 + b"1" + b"}" * 900 + b"}", 400,
         "too_deeply_nested"),
    ]
    for raw, status, code in cases:
        resp = await api.post("/api/events", data=raw, headers={"Content-Type": "application/json"})
        body = await resp.json()
        assert (resp.status, body["error"]) == (status, code), (raw, body)
        assert body["message"]
    unknown = await api.post("/api/events", json={"type": "NOPE"})
    assert "TOOL_USED" in (await unknown.json())["knownTypes"]
    missing = await api.post("/api/events", json={"Type": "ISSUE_APPROVED", "Repo": "o/r"})
    assert (await missing.json())["problems"] == [{"field": "issueNumber", "message": "required"}]
    assert await count_events(db) == 0


async def test_body_over_limit_is_413(api: TestClient, db: asyncpg.Pool) -> None:
    resp = await api.post("/api/events", data=b" " * (65 * 1024), headers={"Content-Type": "application/json"})
    assert resp.status == 413
    assert (await resp.json())["error"] == "body_too_large"
    assert await count_events(db) == 0


async def test_unknown_route_and_method_are_json(api: TestClient) -> None:
    resp = await api.get("/api/nothing")
    assert resp.status == 404 and (await resp.json())["error"] == "not_found"
    resp = await api.delete("/api/events")
    assert resp.status == 405 and (await resp.json())["error"] == "method_not_allowed"
    assert set(resp.headers["Allow"].split(",")) >= {"GET", "POST"}
    resp = await api.put("/api/agents/dev-e-1")  # a path with a parameter, under another method
    assert resp.status == 405 and "GET" in resp.headers["Allow"]
    resp = await api.head("/health")  # GET routes answer HEAD, as aiohttp's add_get does
    assert resp.status == 200


async def test_target_preview_is_trimmed_to_120(api: TestClient, db: asyncpg.Pool) -> None:
    resp = await api.post("/api/events", json={"type": "TOOL_USED", "agentId": "a", "toolName": "Read",
                                               "targetPreview": "y" * 500})
    assert resp.status == 201
    assert len(await db.fetchval("SELECT data->>'TargetPreview' FROM mt_events")) == 120


async def test_text_that_looks_like_a_nul_escape_is_stored_intact(api: TestClient, db: asyncpg.Pool) -> None:
    # A literal backslash followed by "u0000" is ordinary text (only a real NUL is refused), and
    # nesting within the limit is accepted.
    tricky = "C:\\u0000\\tmp"
    resp = await api.post("/api/events", json={"type": "TOOL_USED", "agentId": "a", "toolName": tricky,
                                               "extra": [[[[{"deep": 1}]]]]})
    assert resp.status == 201, await resp.text()
    assert await db.fetchval("SELECT data->>'ToolName' FROM mt_events") == tricky


async def test_body_limit_and_delivery_whole_split_chunked_or_compressed(
        store: object, clock: object, db: asyncpg.Pool) -> None:
    """The body is taken from the buffer when it arrived whole, else read as it comes (see
    read_body in bot/http/events_routes.py): the limit and the answer must not depend on which."""
    import gzip

    from aiohttp.test_utils import TestServer

    from bot.http.app import create_app
    from bot.http.app_keys import ApiDeps
    from eventstore.postgres.read_models import PostgresReadModels

    limit = 1000
    app = create_app(ApiDeps(store=store, read_models=PostgresReadModels(db), clock=clock,  # type: ignore[arg-type]
                             max_body_bytes=limit))
    event = b'{"type": "TOOL_USED", "agentId": "dev-e-1", "toolName": "Bash", "targetPreview": "%s"}'
    fits = event % (b"x" * (limit - len(event) - 10))
    too_big = event % (b"x" * (limit - len(event) + 10))
    assert len(fits) <= limit < len(too_big)

    async with TestServer(app) as server:
        async def exchange(parts: list[bytes], headers: str = "") -> tuple[int, bytes]:
            reader, writer = await asyncio.open_connection(server.host, server.port)
            try:
                head = f"POST /api/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{headers}\r\n"
                writer.write(head.encode())
                for part in parts:  # each part a separate write, with a pause between them
                    writer.write(part)
                    await writer.drain()
                    await asyncio.sleep(0.05)
                status_line = await reader.readline()
                answer = await reader.read(4096)
                return int(status_line.split()[1]), answer
            finally:
                writer.close()

        def sized(body: bytes) -> str:
            return f"Content-Length: {len(body)}\r\n"

        def chunked(body: bytes) -> list[bytes]:
            half = len(body) // 2
            return [b"%x\r\n%s\r\n" % (len(p), p) for p in (body[:half], body[half:])] + [b"0\r\n\r\n"]

        assert (await exchange([fits], sized(fits)))[0] == 201  # whole
        assert (await exchange([fits[:50], fits[50:]], sized(fits)))[0] == 201  # split
        assert (await exchange(chunked(fits), "Transfer-Encoding: chunked\r\n"))[0] == 201
        packed = gzip.compress(fits)
        assert (await exchange([packed], sized(packed) + "Content-Encoding: gzip\r\n"))[0] == 201
        stored = await count_events(db)
        assert stored == 4

        for parts, headers in [([too_big], sized(too_big)), ([too_big[:50], too_big[50:]], sized(too_big)),
                               (chunked(too_big), "Transfer-Encoding: chunked\r\n"),
                               ([gzip.compress(too_big)], sized(gzip.compress(too_big)) + "Content-Encoding: gzip\r\n")]:
            status, answer = await exchange(parts, headers)
            assert status == 413 and b'"body_too_large"' in answer, (headers, answer)
        assert await count_events(db) == stored


async def test_a_body_that_cannot_be_decoded_is_400_not_500(api: TestClient, db: asyncpg.Pool) -> None:
    import gzip

    event = b'{"type": "TOOL_USED", "agentId": "dev-e-1", "toolName": "Bash"}'
    broken = gzip.compress(event)[:10] + b"\xff" * 20  # a gzip header, then no valid deflate data
    for route, body in [("/api/events", b"not gzip at all"), ("/api/events", broken),
                        ("/api/assignments/next", b"not gzip at all")]:
        resp = await api.post(route, data=body, headers={"Content-Type": "application/json",
                                                         "Content-Encoding": "gzip"})
        answer = await resp.json()
        assert (resp.status, answer["error"]) == (400, "malformed_body"), (route, body, answer)
        assert "could not be read" in answer["message"]
    assert await count_events(db) == 0


async def test_an_idempotency_key_that_is_not_utf8_is_an_ordinary_key(api: TestClient, db: asyncpg.Pool) -> None:
    body = b'{"type": "TOOL_USED", "agentId": "dev-e-1", "toolName": "Bash"}'

    async def post() -> tuple[int, bytes]:
        assert api.server.port is not None
        reader, writer = await asyncio.open_connection(api.server.host, api.server.port)
        try:
            writer.write(b"POST /api/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Idempotency-Key: ab\xffcd\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                         % (len(body), body))
            answer = await reader.read()
            return int(answer.split()[1]), answer
        finally:
            writer.close()

    first, again = await post(), await post()
    assert (first[0], again[0]) == (201, 200), (first, again)
    assert b'"duplicate":true' in again[1]
    assert await count_events(db) == 1
