"""/api/execution-logs: the runs the agent runtime reports around each assignment."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from eventstore.authorization import NotPermitted
from eventstore.executions import (
    ExecutionConflict,
    Outcome,
    UnknownExecution,
    append_logs,
    complete_execution,
    execution_id,
    record_step,
    start_execution,
)
from eventstore.projections.execution_log import ExecutionLog
from eventstore.submission import InvalidSubmission

from . import render
from .app_keys import DEPS
from .auth import CALLER, refusal
from .errors import ApiError, json_response
from .json_input import json_body, refused
from .paging import page_params, paged_response
from .query import int_param, optional_param

routes = web.RouteTableDef()

MAX_ISSUE_NUMBER = 2**31 - 1


def summary(run: ExecutionLog) -> dict[str, Any]:
    """A run without its log lines (``logLines`` counts them): what lists and updates answer."""
    body = render.document(run)
    del body["logs"]
    return body


def _answer(outcome: Outcome, body: dict[str, Any], status: int = 201) -> web.Response:
    if outcome.warnings:
        body["warnings"] = list(outcome.warnings)
    return json_response(body, status)


async def _run_request(request: web.Request, use_case: Any) -> Outcome:
    """Run ``use_case(store, id, body, caller)`` for the run named in the path, its refusals as JSON."""
    deps = request.app[DEPS]
    try:
        run_id = execution_id(request.match_info["id"])
        body = await json_body(request)
        outcome: Outcome = await use_case(deps.store, run_id, body, request[CALLER])
    except UnknownExecution:
        raise ApiError(404, "execution_not_found", f"no execution {request.match_info['id'][:100]!r}") from None
    except ExecutionConflict as exc:
        raise ApiError(409, exc.code, exc.message) from None
    except NotPermitted as exc:
        raise refusal(exc) from None
    except InvalidSubmission as exc:
        raise refused(exc) from None
    return outcome


@routes.post("/api/execution-logs")
async def start(request: web.Request) -> web.Response:
    """201 with the new run (its ``id`` names it in the routes below)."""
    deps = request.app[DEPS]
    body = await json_body(request)
    try:
        outcome = await start_execution(deps.store, body, request[CALLER])
    except NotPermitted as exc:
        raise refusal(exc) from None
    except InvalidSubmission as exc:
        raise refused(exc) from None
    return _answer(outcome, render.document(outcome.run))


@routes.get("/api/execution-logs")
async def list_runs(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    repo = optional_param(request, "repo")
    issue_number = (int_param(request, "issueNumber", 0, minimum=1, maximum=MAX_ISSUE_NUMBER)
                    if optional_param(request, "issueNumber") else None)
    agent_id = optional_param(request, "agentId")
    page = page_params(request)
    listing = await deps.read_models.executions(repo, issue_number, agent_id, page.offset, page.limit)
    return paged_response(request, page, listing, [summary(run) for run in listing.items])


@routes.get("/api/execution-logs/{id}")
async def get_run(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    raw = request.match_info["id"]
    try:
        run = await deps.read_models.execution(execution_id(raw))
    except UnknownExecution:
        run = None
    if run is None:
        raise ApiError(404, "execution_not_found", f"no execution {raw[:100]!r}")
    return json_response(render.document(run))


@routes.post("/api/execution-logs/{id}/steps")
async def add_step(request: web.Request) -> web.Response:
    outcome = await _run_request(request, record_step)
    return _answer(outcome, summary(outcome.run))


@routes.post("/api/execution-logs/{id}/logs")
async def add_logs(request: web.Request) -> web.Response:
    """201 with how many lines were stored (``accepted``) and dropped past the run's bound; 200
    when there was nothing to store."""
    outcome = await _run_request(request, append_logs)
    body = {**summary(outcome.run), "accepted": outcome.accepted, "dropped": outcome.dropped}
    return _answer(outcome, body, 201 if outcome.accepted else 200)


@routes.post("/api/execution-logs/{id}/complete")
async def complete(request: web.Request) -> web.Response:
    """201 with the completed run; 200 with ``duplicate: true`` for a repeat of the same completion."""
    outcome = await _run_request(request, complete_execution)
    body = {**summary(outcome.run), "duplicate": outcome.duplicate}
    return _answer(outcome, body, 200 if outcome.duplicate else 201)
