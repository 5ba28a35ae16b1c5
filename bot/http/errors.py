"""Errors as JSON: every answer is JSON, no request ends in a stack trace.

Known failures map to a clear 4xx (or 503 while the database is down). Anything unexpected is
logged with its traceback on the server and answered with a generic JSON 500 naming a request id,
which is a bug to fix, never a message that leaks internals.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection
from typing import Any

import orjson
from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage
from aiohttp.typedefs import Middleware

from eventstore.store import StoreUnavailable, Unstorable

from ..log_context import REQUEST, request_id
from ..logs import Throttle

log = logging.getLogger(__name__)
# An outage refuses every request: one line per interval says so (a Throttle per app).
UNAVAILABLE_LINES = web.AppKey("unavailable_lines", Throttle)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    # orjson writes UTF-8 bytes directly (no str round trip); datetimes and UUIDs as ISO text.
    return web.Response(body=orjson.dumps(body, default=str), status=status,
                        content_type="application/json", headers=headers)


class ApiError(Exception):
    """Raised by handlers for a 4xx; rendered as ``{"error": code, "message": ...}``."""

    def __init__(self, status: int, code: str, message: str, *, headers: dict[str, str] | None = None,
                 close: bool = False, **extra: Any) -> None:
        """``close``: the connection cannot carry another request (part of this one's body is
        still unread): answer, then close it."""
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra
        self.headers, self.close = headers, close


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": code, "message": message, **extra}


# Told of each answered request: the handler (the route's, or the router's own for a 404/405),
# the method and the status (the metrics).
Observer = Callable[[Handler, str, int], None]


def json_errors(authenticate: Callable[[web.Request], None], public: Collection[Handler],
                observe: Observer | None = None) -> Middleware:
    """The app's one middleware: ``authenticate`` (the credential check) runs before every handler
    but the ``public`` ones, and every failure -- its refusal, a handler's error, the router's own
    404 and 405 (with ``Allow``) -- is answered as JSON (see ``error_response``); ``observe`` then
    counts the answer (here rather than in a middleware of its own: one less call per request).

    The router's 404/405 come after the credential check too, so that without one the answer does
    not tell which paths exist."""

    @web.middleware
    async def answer_errors_as_json(request: web.Request, handler: Handler) -> web.StreamResponse:
        REQUEST.set(request)  # for the log lines about it; this task answers this request alone
        try:
            if handler not in public:
                authenticate(request)
            response = await handler(request)
        except Exception as exc:
            response = error_response(request, exc)
        if observe is not None:
            observe(handler, request.method, response.status)
        return response

    return answer_errors_as_json


def error_response(request: web.Request, exc: Exception) -> web.Response:
    """The JSON answer to ``exc``; re-raises an HTTP exception below 400 (a redirect)."""
    if isinstance(exc, ApiError):
        answer = json_response(error_body(exc.code, exc.message, **exc.extra), exc.status, headers=exc.headers)
        if exc.close:
            answer.force_close()
        return answer
    if isinstance(exc, Unstorable):  # the database refuses the request's data: no retry can help
        return json_response(error_body("unstorable", str(exc)), 422)
    if isinstance(exc, StoreUnavailable):
        throttle = request.app.get(UNAVAILABLE_LINES)
        suffix = throttle.allow() if throttle is not None else ""
        if suffix is not None:
            log.warning("%s %s answered 503: %s%s", request.method, request.path, exc, suffix)
        return json_response(error_body("store_unavailable", "the event store is unavailable; retry later"),
                             503, headers={"Retry-After": "1"})
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        limit = request.app._client_max_size  # noqa: SLF001 - aiohttp keeps the limit only here
        return json_response(error_body("body_too_large", f"the body exceeds the limit of {limit} bytes"), 413)
    if isinstance(exc, (web.RequestPayloadError, BadHttpMessage)):
        # Raised while reading a body aiohttp could not decode: a corrupt gzip or deflate stream, a
        # body over the decompression limit, a chunked body cut short. The client's fault: 400.
        cause = exc.__cause__ if isinstance(exc.__cause__, BadHttpMessage) else exc
        reason = cause.message if isinstance(cause, BadHttpMessage) else " ".join(str(cause).split())
        answer = json_response(error_body("malformed_body", f"the body could not be read: {reason}"), 400)
        # The connection cannot carry another request after a body that failed to decode: say so
        # (Connection: close), so that clients do not reuse it. (aiohttp then logs the failure
        # once more when it tries to drain the body before closing; the answer is sent first.)
        answer.force_close()
        return answer
    if isinstance(exc, web.HTTPException):
        if exc.status < 400:
            raise exc
        code = exc.reason.lower().replace(" ", "_")
        message = f"{request.method} {request.path}: {exc.reason}"
        return json_response(error_body(code, message), exc.status, headers=_allow(exc))
    rid = request_id(request)
    log.error("unhandled error in %s %s (request %s)", request.method, request.path, rid, exc_info=exc)
    return json_response(error_body("internal_error", f"unexpected error; request id {rid}"), 500,
                         headers={"X-Request-Id": rid})


def _allow(exc: web.HTTPException) -> dict[str, str] | None:
    allow = exc.headers.get("Allow")
    return {"Allow": allow} if allow else None
