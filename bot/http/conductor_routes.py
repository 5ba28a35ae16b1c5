"""The rig's live state: agents, issues, the queue, and claiming the next assignment."""

from __future__ import annotations

import re
from typing import Any

import orjson
from aiohttp import web

from eventstore.agents import agent_of, pod_of
from eventstore.authorization import NotPermitted, assignment_agent
from eventstore.conductor import claim_next, peek_next
from eventstore.projections.agent_status import AgentStatus, degraded, is_online
from eventstore.projections.issue_status import IssueState
from eventstore.streams import issue_stream_id

from . import render
from .app_keys import DEPS, ApiDeps
from .auth import CALLER, refusal
from .bodies import read_body
from .errors import ApiError, json_response
from .paging import page_params, paged_response
from .query import optional_param, path_param, required_param

routes = web.RouteTableDef()

STATES = [s.value for s in IssueState]
MAX_ISSUE_NUMBER = 2**31 - 1  # as the events' IssueNumber
# As the events' AgentId (no leading '/': a pod of no agent); NUL: PostgreSQL text cannot hold it.
_AGENT_ID = re.compile(r"^[^\s#\x00/][^\s#\x00]{0,199}$")


def agent_json(deps: ApiDeps, agent: AgentStatus) -> dict[str, Any]:
    body = render.document(agent)
    body["isOnline"] = is_online(agent, deps.clock(), deps.agent_online)
    body["degraded"] = degraded(agent)
    body["agent"], body["pod"] = agent_of(agent.id), pod_of(agent.id)  # which agent a pod's entry belongs to
    return body


@routes.get("/api/agents")
async def list_agents(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    page = page_params(request)
    listing = await deps.read_models.agents(page.offset, page.limit)
    return paged_response(request, page, listing, [agent_json(deps, a) for a in listing.items])


@routes.get("/api/agents/{agent_id:.+}")
async def get_agent(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    agent_id = path_param(request, "agent_id")
    agent = await deps.read_models.agent(agent_id)
    if agent is None:
        raise ApiError(404, "agent_not_found", f"no agent {agent_id!r}")
    return json_response(agent_json(deps, agent))


@routes.get("/api/issues")
async def list_issues(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    state = request.query.get("state") or None
    if state is not None and state not in STATES:
        raise ApiError(400, "invalid_query", f"state must be one of {', '.join(STATES)}", states=STATES)
    repo = optional_param(request, "repo")
    page = page_params(request)
    listing = await deps.read_models.issues(state, repo, page.offset, page.limit)
    return paged_response(request, page, listing, [render.document(i) for i in listing.items])


@routes.get("/api/issues/{owner}/{name}/{number:\\d+}")
async def get_issue(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    owner, name = path_param(request, "owner"), path_param(request, "name")
    digits = request.match_info["number"]
    number = int(digits) if len(digits) <= 10 else 0  # no issue number has more digits (they fit int32)
    if not 1 <= number <= MAX_ISSUE_NUMBER:
        raise ApiError(404, "issue_not_found", f"no issue {owner}/{name}#{digits[:20]}")
    stream_id = issue_stream_id(f"{owner}/{name}", number)
    issue = await deps.read_models.issue(stream_id)
    if issue is None:
        raise ApiError(404, "issue_not_found", f"no issue {stream_id!r}")
    return json_response(render.document(issue))


@routes.get("/api/queue")
async def queue(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    page = page_params(request)
    listing = await deps.read_models.queue(page.offset, page.limit)
    return paged_response(request, page, listing, [render.document(i) for i in listing.items])


@routes.get("/api/assignments/next")
@routes.post("/api/assignments/next")
async def next_assignment(request: web.Request) -> web.Response:
    """200 with the issue (held or newly claimed), 204 when there is no work.

    GET claims too: the real runtime's work loop calls it and cannot be changed. HEAD (which
    aiohttp routes here with GET) only looks: 200 if there is work for the agent, never a claim."""
    deps = request.app[DEPS]
    agent_id = optional_param(request, "agentId") or optional_param(request, "AgentId")
    if not agent_id and request.method == "POST" and request.can_read_body:
        agent_id = await _agent_id_from_body(request)
    try:
        agent_id = assignment_agent(request[CALLER], agent_id)
    except NotPermitted as exc:
        raise refusal(exc) from None
    if not agent_id:
        agent_id = required_param(request, "agentId")
    if not _AGENT_ID.match(agent_id):
        raise ApiError(400, "invalid_query", "agentId must be 1-200 characters without spaces, '#' or NUL, "
                       "not starting with '/'")
    if request.method == "HEAD":
        issue, claimed = await peek_next(deps.read_models, agent_id), False
    else:
        issue, claimed = await claim_next(deps.store, agent_id)
        if deps.metrics is not None:
            deps.metrics.claims.labels("claimed" if claimed else "held" if issue is not None else "none").inc()
    if issue is None:
        return web.Response(status=204)
    return json_response({**render.document(issue), "claimed": claimed})


async def _agent_id_from_body(request: web.Request) -> str | None:
    deps = request.app[DEPS]
    raw = await read_body(request, deps.max_body_bytes, deps.http_timeout)
    if not raw.strip():
        return None
    try:
        body = orjson.loads(raw)  # JSON is UTF-8 (RFC 8259) whatever charset the header names
    except orjson.JSONDecodeError:
        raise ApiError(400, "malformed_json", "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_body", "the body must be a JSON object")
    value = body.get("agentId", body.get("AgentId"))
    return value if isinstance(value, str) else None
