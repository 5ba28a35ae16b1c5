"""Error-to-JSON middleware: every answer is JSON, no request ends in a stack trace.

Known failures map to a clear 4xx (or 503 while the database is down). Anything unexpected is
logged with its traceback on the server and answered with a generic JSON 500 naming a request id,
which is a bug to fix, never a message that leaks internals.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from eventstore.store import StoreUnavailable

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    # orjson writes UTF-8 bytes directly (no str round trip); datetimes and UUIDs as ISO text.
    return web.Response(body=orjson.dumps(body, default=str), status=status,
                        content_type="application/json", headers=headers)


class ApiError(Exception):
    """Raised by handlers for a 4xx; rendered as ``{"error": code, "message": ...}``."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": code, "message": message, **extra}


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return json_response(error_body(exc.code, exc.message, **exc.extra), exc.status)
    except StoreUnavailable as exc:
        log.warning("%s %s: %s", request.method, request.path, exc)
        return json_response(error_body("store_unavailable", "the event store is unavailable; retry later"),
                             503, headers={"Retry-After": "1"})
    except web.HTTPRequestEntityTooLarge:
        limit = request.app._client_max_size  # noqa: SLF001 - aiohttp keeps the limit only here
        return json_response(error_body("body_too_large", f"the body exceeds the limit of {limit} bytes"), 413)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = exc.reason.lower().replace(" ", "_")
        message = f"{request.method} {request.path}: {exc.reason}"
        return json_response(error_body(code, message), exc.status, headers=_allow(exc))
    except Exception:
        request_id = uuid.uuid4().hex[:12]
        log.exception("unhandled error in %s %s (request %s)", request.method, request.path, request_id)
        return json_response(error_body("internal_error", f"unexpected error; request id {request_id}"), 500)


def _allow(exc: web.HTTPException) -> dict[str, str] | None:
    allow = exc.headers.get("Allow")
    return {"Allow": allow} if allow else None
