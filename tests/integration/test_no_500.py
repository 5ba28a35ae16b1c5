"""No request can produce a 500: a seeded random mix of odd requests against every route.

Each request is written byte for byte on its own connection (paths and headers that an HTTP client
library would refuse to send are exactly the point). The mix is deterministic (a fixed seed), so a
failure names a request that can be replayed.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import random
import zlib

from aiohttp.test_utils import TestClient

SEED = 20261129
REQUESTS = 600

ROUTES = [
    ("POST", "/api/events"), ("GET", "/api/events"), ("GET", "/api/events/stream"), ("GET", "/health"),
    ("GET", "/api/agents"), ("GET", "/api/agents/{x}"), ("GET", "/api/issues"), ("GET", "/api/issues/{x}/{x}/7"),
    ("GET", "/api/queue"), ("GET", "/api/assignments/next"), ("POST", "/api/assignments/next"),
    ("POST", "/api/merge"), ("PUT", "/api/events"), ("DELETE", "/api/agents/{x}"), ("GET", "/{x}"),
]
ODD_TEXT = ["", " ", "%00", "a%00b", "%ff%fe", "%23", "o%2Fr", "caf%C3%A9", "%F0%9F%92%A9", "x" * 300,
            "dev-e-1", "acme/app%237", "..", "%25", "-1", "99999999999999999999999", "1e400", "NaN", "0", "%20"]
PARAMS = ["id", "from", "limit", "after", "state", "repo", "agentId", "AgentId", "x"]
TYPES = ["TOOL_USED", "HEARTBEAT", "ISSUE_APPROVED", "AGENT_STUCK", "ESCALATED", "PR_CREATED", "NOPE", "", None]
VALUES: list[object] = [None, True, 0, -1, 2**31, 2**63, 1.5, 1e300, "", "x", "o/r", "a#b", "\u0000", "\ud7ff",
                        "é" * 200, [], [1, "a"], {}, {"name": "p"}, [{"name": ""}], [[[[]]]]]
FIELDS = ["repo", "Repo", "issueNumber", "IssueNumber", "issue_number", "agentId", "AgentId", "toolName",
          "targetPreview", "providers", "integrations", "eventId", "expectedVersion", "EXPECTED_VERSION", "title",
          "priority", "dependsOn", "prNumber", "costUsd", "milestone", "reason", "attempt", "x"]


def _body(rng: random.Random) -> bytes:
    kind = rng.random()
    if kind < 0.15:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(40)))
    if kind < 0.25:
        return rng.choice([b"", b"{", b"[]", b"null", b'"x"', b"{" * 40 + b"}" * 40, b'{"type": 1e400}'])
    event: dict[str, object] = {}
    if kind < 0.55:  # a valid event to start from, so that odd values also reach the store
        event = rng.choice([{"type": "TOOL_USED", "agentId": "dev-e-1", "toolName": "Bash"},
                            {"type": "ISSUE_APPROVED", "repo": "o/r", "issueNumber": rng.randrange(1, 5)},
                            {"type": "HEARTBEAT", "agentId": "dev-e-2"}])
    elif (chosen := rng.choice(TYPES)) is not None:
        event[rng.choice(["type", "Type", "TYPE"])] = chosen
    for _ in range(rng.randrange(3 if event else 8)):
        event[rng.choice(FIELDS)] = rng.choice(VALUES)
    return json.dumps(event).encode()


def _request(rng: random.Random) -> bytes:
    method, template = rng.choice(ROUTES)
    path = template.replace("{x}", rng.choice(ODD_TEXT) or "x")
    if rng.random() < 0.6:
        path += "?" + "&".join(f"{rng.choice(PARAMS)}={rng.choice(ODD_TEXT)}" for _ in range(rng.randrange(1, 4)))
    body = _body(rng) if method in ("POST", "PUT") else b""
    headers = [b"Host: x", b"Connection: close"]
    if rng.random() < 0.5:
        headers.append(b"Content-Type: " + rng.choice([b"application/json", b"text/plain", b"application/x"]))
    if rng.random() < 0.2:
        headers.append(b"Idempotency-Key: " + rng.choice([b"k1", b"ab\xffcd", b"x" * 300, b"\xc3\xa9"]))
    if body and rng.random() < 0.2:
        encoding = rng.choice([b"gzip", b"deflate", b"br", b"identity", b"x"])
        headers.append(b"Content-Encoding: " + encoding)
        if rng.random() < 0.5:
            body = gzip.compress(body) if encoding == b"gzip" else zlib.compress(body) if encoding == b"deflate" else body
    headers.append(b"Content-Length: %d" % len(body))
    return method.encode() + b" " + path.encode() + b" HTTP/1.1\r\n" + b"\r\n".join(headers) + b"\r\n\r\n" + body


async def test_no_odd_request_gets_a_500(api: TestClient) -> None:
    rng = random.Random(SEED)
    assert api.server.port is not None
    statuses: dict[int, int] = {}
    for _ in range(REQUESTS):
        raw = _request(rng)
        status, body = await raw_exchange(api, raw)
        statuses[status] = statuses.get(status, 0) + 1
        # 501 is the merge route's answer without GITHUB_TOKEN (as here) to a body it accepts.
        assert status < 500 or (status == 501 and b"merge_not_configured" in body), (raw, body[:600])
    assert (await api.get("/health")).status == 200
    assert len(statuses) > 4  # the mix reached many kinds of answer, not one refusal over and over


async def raw_exchange(api: TestClient, raw: bytes) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection(api.server.host, api.server.port)
    try:
        writer.write(raw)
        answer = await asyncio.wait_for(reader.read(), timeout=10)
    finally:
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def post_raw(path: str, body: bytes, content_type: bytes = b"application/json") -> bytes:
    return (b"POST " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: " + content_type
            + b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body)


async def test_inputs_that_once_gave_a_500_are_client_errors(api: TestClient) -> None:
    long_number = "9" * 5000  # past Python's int-from-text limit (4,300 digits)
    assert (await api.get(f"/api/issues/a/b/{long_number}")).status == 404
    assert (await api.get("/api/issues/a/b/99999999999999999999")).status == 404
    status, body = await raw_exchange(api, post_raw("/api/assignments/next", b"[" * 50_000))
    assert status == 400 and json.loads(body)["error"] in ("malformed_json", "too_deeply_nested")
    for path in ("/api/assignments/next", "/api/events"):
        status, body = await raw_exchange(api, post_raw(path, b'{"agentId": "dev-e-1", "type": "HEARTBEAT"}',
                                                        b"application/json; charset=foo-unknown"))
        assert status in (201, 204, 415), (path, status, body)


async def test_faults_a_retry_cannot_fix_are_4xx_not_503(api: TestClient) -> None:
    huge_issue = {"type": "AGENT_STUCK", "agentId": "dev-e-1", "repo": "o/r", "issueNumber": 5_000_000_000}
    resp = await api.post("/api/events", json=huge_issue)
    assert resp.status == 422, await resp.text()
    lone_surrogate = b'{"type": "HEARTBEAT", "agentId": "dev-\\ud800"}'
    for path in ("/api/events", "/api/assignments/next"):
        status, body = await raw_exchange(api, post_raw(path, lone_surrogate))
        assert status == 400 and json.loads(body)["error"] == "malformed_json", (path, status, body)
    # A surrogate's UTF-8 bytes (%ED%A0%80) or a byte that is not UTF-8 (%FF) in a path or a query.
    for path in ("/api/agents/dev-%ED%A0%80", "/api/assignments/next?agentId=dev-%ED%A0%80",
                 "/api/agents/dev-%FF", "/api/assignments/next?agentId=dev-%FF",
                 "/api/events/stream?id=a/b%23%ED%A0%80", "/api/issues?repo=o/%ED%A0%80"):
        status, body = await raw_exchange(api, b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n"
                                          b"Connection: close\r\n\r\n")
        assert status in (200, 204, 400, 404), (path, status, body)
    assert (await api.get("/health")).status == 200
