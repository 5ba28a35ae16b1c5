"""/api/agent-logs: each agent's diagnostic lines, newest first, kept AGENT_LOG_RETENTION_DAYS."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from eventstore.agent_logs import AgentLogs, StoredLogEntry, parse_agent_logs
from eventstore.authorization import NotPermitted
from eventstore.submission import InvalidSubmission

from . import render
from .app_keys import DEPS
from .auth import CALLER, refusal
from .errors import ApiError, json_response
from .json_input import json_body, refused
from .paging import DEFAULT_LIMIT, MAX_LIMIT
from .query import int_param, optional_param

routes = web.RouteTableDef()


def _logs(request: web.Request) -> AgentLogs:
    logs = request.app[DEPS].agent_logs
    if logs is None:  # an app built without them (tests of other routes)
        raise ApiError(404, "not_found", "this service keeps no agent logs")
    return logs


def entry_json(entry: StoredLogEntry) -> dict[str, Any]:
    """The entry as sent (its other fields too), and where the service keeps it."""
    return {**entry.extra, "id": entry.id, "agentId": entry.agent_id, "timestamp": entry.timestamp,
            "level": entry.level, "message": entry.message, "receivedAt": render.timestamp(entry.received_at)}


@routes.post("/api/agent-logs")
async def post_logs(request: web.Request) -> web.Response:
    """201 with how many entries were stored."""
    deps = request.app[DEPS]
    logs = _logs(request)
    body = await json_body(request)
    try:
        batch = parse_agent_logs(body, request[CALLER])
    except NotPermitted as exc:
        raise refusal(exc) from None
    except InvalidSubmission as exc:
        raise refused(exc) from None
    stored = await logs.append(batch.agent_id, batch.entries, deps.clock())
    answer: dict[str, Any] = {"agentId": batch.agent_id, "accepted": stored}
    if batch.warnings:
        answer["warnings"] = list(batch.warnings)
    return json_response(answer, 201)


@routes.get("/api/agent-logs")
async def recent_logs(request: web.Request) -> web.Response:
    """``?agentId=`` (an agent and its pods, or one pod; none: every agent), ``?limit=`` (default
    100, at most 1,000), newest first; the way on is ``?before=<the last id>`` (``Link: rel="next"``)."""
    logs = _logs(request)
    agent_id = optional_param(request, "agentId") or optional_param(request, "AgentId")
    limit = int_param(request, "limit", DEFAULT_LIMIT, minimum=1, maximum=MAX_LIMIT)
    before = int_param(request, "before", 0, minimum=1) or None
    entries = await logs.recent(agent_id, limit, before)
    headers = None
    if len(entries) == limit:
        nxt = request.rel_url.update_query(before=entries[-1].id, limit=limit)
        headers = {"Link": f'<{nxt}>; rel="next"'}
    return json_response([entry_json(e) for e in entries], headers=headers)
