"""JSON request bodies, and refusals of what they hold, alike on every route."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from eventstore.submission import InvalidSubmission

from .app_keys import DEPS
from .bodies import read_body
from .errors import ApiError

# Refusals of the body as a whole; the rest (a field's value) are 422.
_BAD_REQUEST = frozenset({"invalid_body", "missing_type", "unknown_event_type", "too_deeply_nested"})


async def json_body(request: web.Request) -> Any:
    """The body as JSON: strict (orjson: no NaN, valid UTF-8 without lone surrogates, bounded
    nesting instead of recursion, and several times faster than the json module), within the size
    and time limits (``read_body``); 400 ``malformed_json`` otherwise."""
    deps = request.app[DEPS]
    raw = await read_body(request, deps.max_body_bytes, deps.http_timeout)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if "depth limit" in str(exc):
            raise ApiError(400, "too_deeply_nested", "the body is nested too deeply") from None
        raise ApiError(400, "malformed_json", f"the body is not valid JSON: {exc}") from None


def refused(exc: InvalidSubmission) -> ApiError:
    status = 400 if exc.code in _BAD_REQUEST else 422
    return ApiError(status, exc.code, str(exc), problems=[p.as_json() for p in exc.problems], **exc.extra)
