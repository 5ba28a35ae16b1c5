"""The JSON error wrapper every route gets: no failure leaves a handler as a stack trace."""

from __future__ import annotations

import logging

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from bot.http.errors import ApiError, json_errors


async def test_an_unexpected_exception_is_a_json_500_naming_a_request_id(caplog: pytest.LogCaptureFixture) -> None:
    @json_errors
    async def broken(request: web.Request) -> web.Response:
        raise RuntimeError("a bug")

    with caplog.at_level(logging.ERROR):
        resp = await broken(make_mocked_request("POST", "/api/events"))
    assert resp.status == 500
    body = orjson.loads(resp.body)  # type: ignore[arg-type]
    assert body["error"] == "internal_error" and "request id" in body["message"] and "a bug" not in body["message"]
    assert "a bug" in caplog.text  # the traceback goes to the log, not to the client


async def test_api_errors_and_http_errors_become_json_and_redirects_pass() -> None:
    @json_errors
    async def refuses(request: web.Request) -> web.Response:
        raise ApiError(409, "version_conflict", "no", streamId="s")

    resp = await refuses(make_mocked_request("POST", "/x"))
    assert resp.status == 409 and orjson.loads(resp.body) == {  # type: ignore[arg-type]
        "error": "version_conflict", "message": "no", "streamId": "s"}

    @json_errors
    async def redirects(request: web.Request) -> web.Response:
        raise web.HTTPFound("/elsewhere")

    with pytest.raises(web.HTTPFound):
        await redirects(make_mocked_request("GET", "/x"))
