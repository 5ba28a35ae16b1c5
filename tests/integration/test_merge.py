"""POST /api/merge: refused while the human gate says no, performed through GitHub's REST API
(a fake GitHub on 127.0.0.1) once it says yes, and every failure a clear answer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.credentials import Credentials
from bot.github import GitHubMerger
from bot.http.app import create_app
from bot.http.app_keys import ApiDeps
from eventstore.postgres.read_models import PostgresReadModels
from eventstore.postgres.store import PostgresEventStore

from ..conftest import OPERATOR, OPERATOR_TOKEN, TEST_CREDENTIALS, FakeClock
from .fake_github import FakeGitHub

REPO = "acme/app"
TOKEN = "ghp_test_0123456789abcdef"  # what the service sends; a made-up value


@pytest.fixture
async def github() -> AsyncIterator[FakeGitHub]:
    fake = FakeGitHub()
    await fake.start()
    yield fake
    await fake.close()


def _client(store: PostgresEventStore, clock: FakeClock, api_url: str, credentials: Credentials = TEST_CREDENTIALS,
            timeout: float = 2.0) -> tuple[TestClient, GitHubMerger]:
    merger = GitHubMerger(api_url, TOKEN, timeout=timeout)
    app = create_app(ApiDeps(store=store, read_models=PostgresReadModels(store.pool), clock=clock,
                             credentials=credentials, merger=merger))
    return TestClient(TestServer(app)), merger


@pytest.fixture
async def merging(store: PostgresEventStore, clock: FakeClock, github: FakeGitHub) -> AsyncIterator[TestClient]:
    client, merger = _client(store, clock, github.url)
    async with client:
        yield client
    await merger.close()


async def post(api: TestClient, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
    resp = await api.post("/api/events", json=body, headers=headers)
    assert resp.status == 201, await resp.text()


async def pr_in_review(api: TestClient, n: int = 1, pr: int = 7) -> None:
    await post(api, {"type": "ISSUE_APPROVED", "repo": REPO, "issueNumber": n, "title": "Add auth"})
    await post(api, {"type": "PR_CREATED", "repo": REPO, "issueNumber": n, "prNumber": pr, "agentId": "dev-e-1"})


async def merge(api: TestClient, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    resp = await api.post("/api/merge", json={"repo": REPO, "prNumber": 7} if body is None else body, headers=headers)
    return resp.status, await resp.json()


async def test_refused_while_the_gate_is_open_then_merged_after_approval(merging: TestClient,
                                                                        github: FakeGitHub) -> None:
    await pr_in_review(merging)
    await post(merging, {"type": "HUMAN_GATE_TRIGGERED", "repo": REPO, "issueNumber": 1, "prNumber": 7,
                         "reason": "touches auth"})
    status, body = await merge(merging)
    assert status == 409 and body["error"] == "merge_blocked" and body["reason"] == "gate_open", body
    assert "touches auth" in body["message"] and body["streamId"] == f"{REPO}#1"
    assert github.requests == []  # nothing was called

    await post(merging, {"type": "HUMAN_GATE_APPROVED", "repo": REPO, "issueNumber": 1}, headers=OPERATOR)
    status, body = await merge(merging, {"repo": REPO, "prNumber": 7, "agentId": "review-e"})
    assert status == 200, body
    assert body["merged"] is True and body["sha"] == github.answer["sha"] and body["requestedBy"] == "review-e"
    [call] = github.requests
    assert (call.method, call.path) == ("PUT", f"/repos/{REPO}/pulls/7/merge")
    assert call.headers["Authorization"] == f"Bearer {TOKEN}"
    assert call.headers["Accept"] == "application/vnd.github+json"
    assert call.body == {"merge_method": "merge"}

    events = await (await merging.get("/api/events/stream", params={"id": f"{REPO}#1"})).json()
    merged = events[-1]
    assert merged["type"] == "MERGED" and merged["prNumber"] == 7
    assert merged["mergeSha"] == github.answer["sha"] and merged["requestedBy"] == "review-e"
    issue = await (await merging.get(f"/api/issues/{REPO}/1")).json()
    assert issue["state"] == "deploying"


@pytest.mark.parametrize("events, reason", [
    ([{"type": "HUMAN_GATE_TRIGGERED", "reason": "schema"}, {"type": "HUMAN_GATE_REJECTED", "reason": "no"}],
     "gate_rejected"),
    ([{"type": "CI_FAILED", "prNumber": 7, "failedChecks": ["unit"]}], "ci_failed"),
    ([{"type": "ESCALATED", "reason": "stuck twice"}], "issue_escalated"),
    ([{"type": "ESCALATED"}, {"type": "ISSUE_CLOSED"}], "issue_closed"),
])
async def test_refused_while_the_rules_say_no(merging: TestClient, github: FakeGitHub,
                                             events: list[dict[str, Any]], reason: str) -> None:
    await pr_in_review(merging)
    for event in events:
        await post(merging, {"repo": REPO, "issueNumber": 1, **event}, headers=OPERATOR)
    status, body = await merge(merging)
    assert status == 409 and body["reason"] == reason, body
    assert github.requests == []


async def test_ci_passing_again_lifts_the_ci_refusal(merging: TestClient, github: FakeGitHub) -> None:
    await pr_in_review(merging)
    await post(merging, {"type": "CI_FAILED", "repo": REPO, "issueNumber": 1, "prNumber": 7})
    await post(merging, {"type": "CI_PASSED", "repo": REPO, "issueNumber": 1, "prNumber": 7})
    status, body = await merge(merging, {"Repo": REPO, "PrNumber": 7})  # PascalCase works as well
    assert status == 200, body
    assert body["requestedBy"] == "anonymous"  # the open mode, and no agentId: nothing names who asked


async def test_unknown_pr_is_404_and_bad_bodies_are_4xx(merging: TestClient, github: FakeGitHub) -> None:
    await pr_in_review(merging)
    status, body = await merge(merging, {"repo": REPO, "prNumber": 8})
    assert status == 404 and body["error"] == "pr_not_found", body
    status, body = await merge(merging, {"repo": "other/app", "prNumber": 7})
    assert status == 404
    status, body = await merge(merging, {"repo": REPO})
    assert status == 422 and body["problems"] == [{"field": "prNumber", "message": "required"}], body
    status, body = await merge(merging, {"repo": "no-slash", "prNumber": 0})
    assert status == 422 and {p["field"] for p in body["problems"]} == {"repo", "prNumber"}, body
    status, body = await merge(merging, [1])
    assert status == 400 and body["error"] == "invalid_body"
    resp = await merging.post("/api/merge", data=b"{", headers={"Content-Type": "application/json"})
    assert resp.status == 400 and (await resp.json())["error"] == "malformed_json"
    assert github.requests == []


@pytest.mark.parametrize("status, message", [
    (405, "Pull Request is not mergeable"), (409, "Head branch was modified. Review and try the merge again."),
    (422, "Merge commits are not allowed on this repository."),
])
async def test_githubs_refusal_is_409_with_its_message(merging: TestClient, github: FakeGitHub,
                                                      status: int, message: str) -> None:
    await pr_in_review(merging)
    github.status, github.answer = status, {"message": message, "documentation_url": "https://docs.example"}
    code, body = await merge(merging)
    assert code == 409 and body["error"] == "merge_refused" and body["githubStatus"] == status, body
    assert message in body["message"]
    events = await (await merging.get("/api/events/stream", params={"id": f"{REPO}#1"})).json()
    assert "MERGED" not in [e["type"] for e in events]


async def test_github_failing_or_unreachable_is_502_or_503(store: PostgresEventStore, clock: FakeClock,
                                                          merging: TestClient, github: FakeGitHub) -> None:
    await pr_in_review(merging)
    github.status, github.answer = 401, {"message": "Bad credentials"}
    status, body = await merge(merging)
    assert status == 502 and body["error"] == "github_error" and "Bad credentials" in body["message"], body
    assert TOKEN not in str(body)
    github.status, github.answer = 500, {}
    status, body = await merge(merging)
    assert status == 502, body

    github.status, github.delay = 200, 3.0  # past the merger's timeout (2 s here)
    status, body = await merge(merging)
    assert status == 503 and body["error"] == "github_unavailable", body

    dead = FakeGitHub()
    await dead.start()
    await dead.close()  # a port where nothing listens any more
    client, merger = _client(store, clock, dead.url)
    async with client:
        status, body = await merge(client)
        assert status == 503 and body["error"] == "github_unavailable", body
        assert "could not be reached" in body["message"]
    await merger.close()
    events = await (await merging.get("/api/events/stream", params={"id": f"{REPO}#1"})).json()
    assert "MERGED" not in [e["type"] for e in events]


async def test_without_a_token_merge_is_not_configured(api: TestClient) -> None:
    await pr_in_review(api)
    status, body = await merge(api)
    assert status == 501 and body["error"] == "merge_not_configured", body


async def test_tokens_mode_who_may_ask(store: PostgresEventStore, clock: FakeClock, github: FakeGitHub) -> None:
    review = "review-token-0123456789abcdef"
    credentials = Credentials.parse(agents=f"review-e={review}", operators=f"carol={OPERATOR_TOKEN}")
    client, merger = _client(store, clock, github.url, credentials)
    as_review = {"Authorization": f"Bearer {review}"}
    async with client:
        for body in ({"type": "ISSUE_APPROVED", "repo": REPO, "issueNumber": 1},
                     {"type": "PR_CREATED", "repo": REPO, "issueNumber": 1, "prNumber": 7}):
            await post(client, body, headers=OPERATOR)
        status, body = await merge(client)
        assert status == 401 and body["error"] == "missing_credential"
        status, body = await merge(client, {"repo": REPO, "prNumber": 7, "agentId": "dev-e-1"}, headers=as_review)
        assert status == 403 and body["error"] == "wrong_agent"
        assert github.requests == []
        status, body = await merge(client, {"repo": REPO, "prNumber": 7, "agentId": "review-e/abc12"},
                                   headers=as_review)
        assert status == 200 and body["requestedBy"] == "review-e/abc12", body
    await merger.close()


async def test_a_pr_shared_by_two_issues_is_merged_once_and_recorded_on_both(merging: TestClient,
                                                                            github: FakeGitHub) -> None:
    await pr_in_review(merging, 1)
    await pr_in_review(merging, 2)
    await post(merging, {"type": "HUMAN_GATE_TRIGGERED", "repo": REPO, "issueNumber": 2, "reason": "payments"})
    status, body = await merge(merging)
    assert status == 409 and body["streamId"] == f"{REPO}#2"  # one open gate holds the PR for both
    await post(merging, {"type": "HUMAN_GATE_APPROVED", "repo": REPO, "issueNumber": 2}, headers=OPERATOR)
    status, body = await merge(merging)
    assert status == 200 and [e["streamId"] for e in body["events"]] == [f"{REPO}#1", f"{REPO}#2"], body
    assert len(github.requests) == 1
