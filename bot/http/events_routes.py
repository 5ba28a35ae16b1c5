"""POST /api/events, the stream and global feeds, and /health."""

from __future__ import annotations

from aiohttp import web

from eventstore.authorization import NotPermitted
from eventstore.store import ConcurrencyError, IdempotencyConflict, StoreUnavailable
from eventstore.submission import InvalidSubmission
from eventstore.submit import submit_event

from ..log_context import STREAM
from . import render
from .app_keys import DEPS
from .auth import CALLER, has_valid_token, refusal
from .errors import ApiError, json_response
from .json_input import json_body, refused
from .query import int_param, required_param

routes = web.RouteTableDef()

MAX_PAGE = 1000


@routes.post("/api/events")
async def post_event(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    body = await json_body(request)
    try:
        appended, warnings = submit_event(deps.store, body, idempotency_key=request.headers.get("Idempotency-Key"),
                                          caller=request[CALLER])
    except NotPermitted as exc:
        raise refusal(exc) from None
    except InvalidSubmission as exc:
        raise refused(exc) from None
    try:
        result = await appended
    except ConcurrencyError as exc:
        raise ApiError(409, "version_conflict", str(exc), streamId=exc.stream_id,
                       expectedVersion=exc.expected, actualVersion=exc.actual) from None
    except IdempotencyConflict as exc:
        raise ApiError(409, "idempotency_conflict", str(exc)) from None
    STREAM.set(result.recorded.stream_id)  # for the access log line
    status = 200 if result.duplicate else 201
    return json_response(render.append_answer(result.recorded, result.duplicate, warnings), status)


@routes.get("/api/events/stream")
async def read_stream(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    stream_id = required_param(request, "id")
    STREAM.set(stream_id)
    first = int_param(request, "from", 1, minimum=1)
    limit = int_param(request, "limit", MAX_PAGE, minimum=1, maximum=MAX_PAGE)
    events = await deps.store.read_stream(stream_id, first, limit)
    if not events and first == 1:
        raise ApiError(404, "stream_not_found", f"no stream {stream_id!r}")
    return json_response([render.recorded_event(e) for e in events])


@routes.get("/api/events")
async def read_all(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    after = int_param(request, "after", 0)
    limit = int_param(request, "limit", 100, minimum=1, maximum=MAX_PAGE)
    events = await deps.store.read_all(after, limit)
    return json_response([render.recorded_event(e) for e in events])


@routes.get("/health")
async def health(request: web.Request) -> web.Response:
    """200 while appends work; 503 with Retry-After only when the database does not answer."""
    deps = request.app[DEPS]
    if deps.health is not None:
        up, report = await deps.health.report()
        if deps.credentials.agents_required and not has_valid_token(request):
            # Open to probes, but in the tokens mode the parts' details (repos, errors) need a token.
            report = {"status": report["status"], "database": report["database"]}
    else:  # an app without the process around it (tests of the routes alone)
        try:
            await deps.store.ping()
            up, report = True, {"status": "ok", "database": "up"}
        except StoreUnavailable:
            up, report = False, {"status": "unavailable", "database": "down"}
    return json_response(report, 200 if up else 503, headers=None if up else {"Retry-After": "1"})
