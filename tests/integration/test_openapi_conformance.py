"""The OpenAPI description and the service cannot drift apart: schemathesis sends every described
operation a few generated requests (valid and invalid ones) against the running service on
127.0.0.1, and checks that none is answered with a server error, and that each answer's status,
content type and body are the ones the description gives; a walk of the success paths is checked
the same way. And every route of the app is described, in a valid OpenAPI 3.1 document.

Schemathesis calls the service synchronously, so the service runs on an event loop of its own in
a thread (with a fake GitHub, so that merges are configured), on a database of its own.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, settings
from pydantic import SecretStr
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from bot.http.app import create_app
from bot.http.app_keys import ApiDeps
from bot.http.openapi import document
from bot.runtime import Service
from bot.settings import Settings
from tests.conftest import TEST_CREDENTIALS, FakeClock, _with_database

from .fake_github import FakeGitHub

EXAMPLES = 6  # per operation and mode: enough to cross every kind of answer, few enough to stay quick
EVENT_EXAMPLES = 40  # for the event catalogue, which schemathesis' coverage phase would take minutes over
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


class ServedInAThread:
    """A ``Service`` (and a fake GitHub) on an event loop running in a thread of its own."""

    def __init__(self, server_dsn: str) -> None:
        self._server_dsn = server_dsn
        self._database = f"ce_openapi_{uuid.uuid4().hex[:10]}"
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="served-for-schemathesis", daemon=True)
        self._service: Service | None = None
        self._github = FakeGitHub()
        self.base_url = ""

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=60)

    def __enter__(self) -> ServedInAThread:
        self._thread.start()
        self._run(self._start())
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._run(self._stop())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()

    async def _start(self) -> None:
        admin = await asyncpg.connect(self._server_dsn)
        try:
            await admin.execute(f'CREATE DATABASE "{self._database}"')
        finally:
            await admin.close()
        await self._github.start()
        settings = Settings(host="127.0.0.1", port=0, credentials=TEST_CREDENTIALS,
                            github_token=SecretStr("ghp-test"), github_api_url=self._github.url)
        self._service = Service(settings, dsn=_with_database(self._server_dsn, self._database))
        await self._service.start()
        self.base_url = f"http://127.0.0.1:{self._service.port}"

    async def _stop(self) -> None:
        if self._service is not None:
            await self._service.stop()
        await self._github.close()
        admin = await asyncpg.connect(self._server_dsn)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{self._database}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture(scope="module")
def served(pg_server_dsn: str) -> Iterator[ServedInAThread]:
    with ServedInAThread(pg_server_dsn) as service:
        yield service


# Every operation with schemathesis' phases (its examples, the boundaries of each value, random
# requests), but POST /api/events: the coverage phase makes a request per boundary of every field
# of every event type, in both casings -- thousands -- so it gets random ones, more of them.
described = schemathesis.openapi.from_dict(document()).exclude(method="POST", path="/api/events")
described.config.generation.update(max_examples=EXAMPLES)
events = schemathesis.openapi.from_dict(document()).include(method="POST", path="/api/events")
events.config.generation.update(max_examples=EVENT_EXAMPLES)
events.config.phases.update(phases=["examples", "fuzzing"])
_QUICK = settings(deadline=None, derandomize=True, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture])


@described.parametrize()
@_QUICK
def test_every_operation_answers_as_described(case: schemathesis.Case, served: ServedInAThread) -> None:
    case.call_and_validate(base_url=served.base_url, checks=CHECKS, timeout=10)


@events.parametrize()
@_QUICK
def test_events_are_answered_as_described(case: schemathesis.Case, served: ServedInAThread) -> None:
    case.call_and_validate(base_url=served.base_url, checks=CHECKS, timeout=10)


def test_the_description_is_valid_openapi_3_1() -> None:
    # The OpenAPI Initiative's JSON Schema for 3.1 documents, as schemathesis ships it (it does not
    # check a document it is given against it).
    from schemathesis.specs.openapi.definitions import OPENAPI_31_VALIDATOR

    assert [error.message for error in OPENAPI_31_VALIDATOR.iter_errors(document())] == []


def test_every_route_is_described() -> None:
    app = create_app(ApiDeps(store=None, read_models=None, clock=FakeClock()))  # type: ignore[arg-type]
    described = {(path, method.upper()) for path, ops in document()["paths"].items() for method in ops}
    routes = {(route.resource.canonical, route.method) for route in app.router.routes()
              if isinstance(route.resource, web.AbstractResource) and route.method != "HEAD"}
    assert routes <= described, f"routes the description leaves out: {sorted(routes - described)}"
    assert {(p, m) for p, m in described if m != "HEAD"} <= routes, "described operations the app does not have"


def test_the_success_answers_are_as_described(served: ServedInAThread) -> None:
    """Generated requests seldom name what exists (a run, a PR, an agent): walk the routes' success
    paths once, each answer checked against the description like the generated ones."""
    whole = schemathesis.openapi.from_dict(document())

    def call(path: str, method: str, status: int, **parts: Any) -> Any:
        case = whole[path][method].Case(**parts)
        response = case.call_and_validate(base_url=served.base_url, checks=CHECKS, timeout=10)
        assert response.status_code == status, response.text
        return response.json() if response.content else None

    issue = {"repo": "acme/described", "issueNumber": 7}
    call("/api/events", "POST", 201, body={"type": "ISSUE_APPROVED", **issue, "title": "t"})
    call("/api/events", "POST", 201, body={"Type": "HEARTBEAT", "AgentId": "dev-e-1/abc12", "Status": "idle",
                                           "Providers": [{"Name": "anthropic", "Status": "ready"}]})
    call("/api/assignments/next", "POST", 200, body={"agentId": "dev-e-1"})
    call("/api/assignments/next", "GET", 200, query={"agentId": "dev-e-1"})
    call("/api/assignments/next", "HEAD", 200, query={"agentId": "dev-e-1"})
    call("/api/events", "POST", 201, body={"type": "PR_CREATED", **issue, "prNumber": 70, "agentId": "dev-e-1"})
    merged = call("/api/merge", "POST", 200, body={"repo": "acme/described", "prNumber": 70})
    assert merged["merged"] is True
    call("/api/events/stream", "GET", 200, query={"id": "acme/described#7"})
    call("/api/agents/{agent_id}", "GET", 200, path_parameters={"agent_id": "dev-e-1/abc12"})
    call("/api/issues/{owner}/{name}/{number}", "GET", 200,
         path_parameters={"owner": "acme", "name": "described", "number": 7})
    run = call("/api/execution-logs", "POST", 201, body={"agentId": "dev-e-1", **issue, "model": "m"})
    at = {"id": run["id"]}
    call("/api/execution-logs/{id}/steps", "POST", 201, path_parameters=at, body={"type": "clone", "status": "ok"})
    call("/api/execution-logs/{id}/logs", "POST", 201, path_parameters=at, body=[{"level": "info", "message": "hi"}])
    call("/api/execution-logs/{id}/complete", "POST", 201, path_parameters=at, body={"status": "completed"})
    call("/api/execution-logs/{id}/complete", "POST", 200, path_parameters=at, body={"status": "completed"})
    call("/api/execution-logs/{id}", "GET", 200, path_parameters=at)
    call("/api/agent-logs", "POST", 201, body={"agentId": "dev-e-1", "entries": [{"message": "polling"}]})
    call("/api/agent-logs", "GET", 200, query={"agentId": "dev-e-1"})
    call("/api/repo-learnings", "POST", 201, body={"repo": "acme/described", "key": "build", "value": "npm"})
    call("/api/repo-learnings", "POST", 200, body={"repo": "acme/described", "key": "build", "value": "npm"})
    call("/api/repo-learnings", "GET", 200, query={"repo": "acme/described"})
