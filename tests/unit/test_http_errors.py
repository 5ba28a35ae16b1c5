"""The app's JSON error middleware: no failure leaves a handler as a stack trace."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.http.errors import ApiError, json_errors

CHECKED: list[str] = []


def _check(request: web.Request) -> None:
    CHECKED.append(request.path)
    if request.headers.get("Authorization") == "Bearer wrong":
        raise ApiError(401, "invalid_credential", "not a valid token")


async def broken(request: web.Request) -> web.Response:
    raise RuntimeError("a bug")


async def refuses(request: web.Request) -> web.Response:
    raise ApiError(409, "version_conflict", "no", streamId="s")


async def redirects(request: web.Request) -> web.Response:
    raise web.HTTPFound("/elsewhere")


async def probe(request: web.Request) -> web.Response:
    return web.Response(text="ok")


@pytest.fixture
async def client() -> AsyncIterator[TestClient[web.Request, web.Application]]:
    app = web.Application(middlewares=[json_errors(_check, {probe})])
    app.router.add_post("/broken", broken)
    app.router.add_post("/refuses", refuses)
    app.router.add_get("/redirects", redirects)
    app.router.add_get("/probe", probe)
    CHECKED.clear()
    async with TestClient(TestServer(app)) as c:
        yield c


async def test_an_unexpected_exception_is_a_json_500_naming_a_request_id(
        client: TestClient[web.Request, web.Application], caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR):
        resp = await client.post("/broken")
    assert resp.status == 500
    body = await resp.json()
    assert body["error"] == "internal_error" and "request id" in body["message"] and "a bug" not in body["message"]
    assert "a bug" in caplog.text  # the traceback goes to the log, not to the client


async def test_api_errors_become_json_and_redirects_pass(client: TestClient[web.Request, web.Application]) -> None:
    resp = await client.post("/refuses")
    assert resp.status == 409 and await resp.json() == {"error": "version_conflict", "message": "no", "streamId": "s"}
    resp = await client.get("/redirects", allow_redirects=False)
    assert resp.status == 302 and resp.headers["Location"] == "/elsewhere"


async def test_the_routers_own_404_and_405_are_json_with_allow(
        client: TestClient[web.Request, web.Application]) -> None:
    resp = await client.get("/nowhere")
    assert resp.status == 404 and (await resp.json())["error"] == "not_found"
    resp = await client.delete("/refuses")
    assert resp.status == 405 and resp.headers["Allow"] == "POST"
    assert (await resp.json())["error"] == "method_not_allowed"


async def test_the_credential_check_runs_first_except_for_public_handlers(
        client: TestClient[web.Request, web.Application]) -> None:
    refused = await client.get("/nowhere", headers={"Authorization": "Bearer wrong"})
    assert refused.status == 401  # not 404: without a credential no path is told to exist
    assert (await refused.json())["error"] == "invalid_credential"
    public = await client.get("/probe", headers={"Authorization": "Bearer wrong"})
    assert public.status == 200 and CHECKED == ["/nowhere"]
