"""The OpenAPI 3.1 description of every route (``GET /openapi.json``).

The operations are listed here, with the statuses each can answer; their bodies' and answers'
schemas come from the pydantic models (``openapi_schemas``). The test suite runs schemathesis
against a running service with this description, and checks that every route of the app is in it.
HEAD is described for ``/api/assignments/next`` alone, where it differs from GET (it never
claims); elsewhere aiohttp answers HEAD as GET without the body.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any

from eventstore.projections.issue_status import IssueState

from ..version import version
from . import answers
from .openapi_schemas import REF, Schema, Schemas
from .paging import DEFAULT_LIMIT, MAX_LIMIT

MAX_ISSUE_NUMBER = 2**31 - 1
_ERRORS = {
    400: "The request cannot be read: malformed JSON or body, a bad query or path parameter",
    401: "No credential where one is needed, or one that is not valid",
    403: "The credential may not do this (an agent's token speaking for another agent)",
    404: "Nothing by that name",
    408: "The body did not arrive in time",
    409: "Refused by the current state (see `error`)",
    413: "The body is over the size limit (sent, or once inflated)",
    415: "A Content-Encoding other than gzip, deflate or identity",
    422: "A field's value is refused (see `problems`)",
    501: "Not configured on this service",
    502: "GitHub answered with an error",
    503: "The event store (or GitHub) is unavailable: retry after `Retry-After`",
}
_READ = (400, 401, 503)  # every read of the store
_BODY = (400, 401, 408, 413, 415, 422, 503)  # every post of a JSON body
_PAGED_HEADERS = {
    "Link": {"description": "the way on, as GitHub gives it: first, prev, next, last",
             "schema": {"type": "string"}},
    "X-Total-Count": {"description": "items in every page", "schema": {"type": "string", "pattern": "^[0-9]+$"}},
}


@cache
def document() -> dict[str, Any]:
    """The description (made once per process, on first use)."""
    schemas = Schemas()
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Conductor-E",
            "version": version(),
            "description": "The coordinator and memory of a rig of AI coding agents: agents post events and "
                           "read their work; humans decide gates. Errors are JSON: `{\"error\": code, "
                           "\"message\": …}`. In the tokens mode every route but /health and /openapi.json "
                           "needs a bearer token.",
        },
        "paths": _paths(schemas),
        "components": {
            "schemas": schemas.components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "an agent's or an operator's token"}},
        },
        # Optional in the open mode (no agent tokens configured), required in the tokens mode.
        "security": [{}, {"bearer": []}],
    }


def _paths(s: Schemas) -> dict[str, Any]:
    run_id = _path("id", {"type": "string", "format": "uuid"}, "the run's id, as POST /api/execution-logs answered")
    events = {"$ref": REF + "EventBody"}
    return {
        "/api/events": {
            "post": _op("Append one event", "events", body=events, headers=[_IDEMPOTENCY], answers={
                201: _json(s.ref(answers.AppendAnswer), "Stored"),
                200: _json(s.ref(answers.AppendAnswer), "A retry of an event stored already (`duplicate`)"),
            }, errors=(*_BODY, 403, 409)),
            "get": _op("The global feed in sequence order", "events", params=[
                _query("after", {"type": "integer", "minimum": 0, "default": 0}, "events after this sequence"),
                _limit(1000, 100)], answers={200: _json(_list(s.ref(answers.FeedEvent)), "Events")}, errors=_READ),
        },
        "/api/events/stream": {"get": _op("A stream's events in version order", "events", params=[
            _query("id", {"type": "string", "minLength": 1}, "the stream id (`owner/repo#42`, an agent id, …)",
                   required=True),
            _query("from", {"type": "integer", "minimum": 1, "default": 1}, "the first version"),
            _limit(1000, 1000)], answers={200: _json(_list(s.ref(answers.FeedEvent)), "Events")},
            errors=(*_READ, 404))},
        "/api/agents": {"get": _op("Agents, by id", "rig", params=_paging(),
                                   answers={200: _json(_list(s.ref(answers.AgentAnswer)), "A page", _PAGED_HEADERS)},
                                   errors=_READ)},
        "/api/agents/{agent_id}": {"get": _op("One agent (or pod)", "rig", params=[
            _path("agent_id", {"type": "string", "minLength": 1}, "`dev-e-1`, or a pod `dev-e-1/abc12`")],
            answers={200: _json(s.ref(answers.AgentAnswer), "The agent")}, errors=(*_READ, 404))},
        "/api/issues": {"get": _op("Issues, by repo then number", "rig", params=[
            _query("state", {"type": "string", "enum": [state.value for state in IssueState]}, "only this state"),
            _query("repo", {"type": "string"}, "only this repo (`owner/name`)"), *_paging()],
            answers={200: _json(_list(s.ref(answers.IssueStatus)), "A page", _PAGED_HEADERS)}, errors=_READ)},
        "/api/issues/{owner}/{name}/{number}": {"get": _op("One issue", "rig", params=[
            _path("owner", {"type": "string", "pattern": r"^[^\s#/]+$"}, "the repo's owner"),
            _path("name", {"type": "string", "pattern": r"^[^\s#/]+$"}, "the repo's name"),
            _path("number", {"type": "integer", "minimum": 0}, "the issue number")],
            answers={200: _json(s.ref(answers.IssueStatus), "The issue")}, errors=(*_READ, 404))},
        "/api/queue": {"get": _op("Queued issues an agent may take, in hand-out order", "rig", params=_paging(),
                                  answers={200: _json(_list(s.ref(answers.IssueStatus)), "A page", _PAGED_HEADERS)},
                                  errors=_READ)},
        "/api/assignments/next": _assignments(s),
        "/api/merge": {"post": _op("Merge a pull request unless the rig's rules forbid it", "merge",
                                   body={"$ref": REF + "MergePost"},
                                   answers={200: _json(s.ref(answers.MergeAnswer), "Merged, and MERGED stored")},
                                   errors=(*_BODY, 403, 404, 409, 501, 502))},
        "/api/execution-logs": {
            "post": _op("Start a run", "runs", body={"$ref": REF + "ExecutionStartPost"},
                        answers={201: _json(s.ref(answers.RunAnswer), "The new run (its `id` names it)")},
                        errors=(*_BODY, 403)),
            "get": _op("Runs, newest first, without their log lines", "runs", params=[
                _query("repo", {"type": "string"}, "only this repo"),
                _query("issueNumber", {"type": "integer", "minimum": 1, "maximum": MAX_ISSUE_NUMBER}, "only this issue"),
                _query("agentId", {"type": "string"}, "only this agent's (and its pods') runs, or one pod's"),
                *_paging()], answers={200: _json(_list(s.ref(answers.RunAnswer)), "A page", _PAGED_HEADERS)},
                errors=_READ),
        },
        "/api/execution-logs/{id}": {"get": _op("One run, with its latest 500 log lines", "runs", params=[run_id],
                                                answers={200: _json(s.ref(answers.RunAnswer), "The run")},
                                                errors=(401, 404, 503))},
        "/api/execution-logs/{id}/steps": {"post": _op(
            "Add a step to a run", "runs", params=[run_id], body={"$ref": REF + "ExecutionStepPost"},
            answers={201: _json(s.ref(answers.RunAnswer), "The run, without its lines")},
            errors=(*_BODY, 403, 404, 409))},
        "/api/execution-logs/{id}/logs": {"post": _op(
            "Add log lines to a run", "runs", params=[run_id],
            body={"type": "array", "items": {"$ref": REF + "LogLinePost"}},
            answers={201: _json(s.ref(answers.RunAnswer), "Lines stored (`accepted`, `dropped`)"),
                     200: _json(s.ref(answers.RunAnswer), "Nothing to store (an empty array)")},
            errors=(*_BODY, 403, 404, 409))},
        "/api/execution-logs/{id}/complete": {"post": _op(
            "Complete a run", "runs", params=[run_id], body={"$ref": REF + "ExecutionCompletionPost"},
            answers={201: _json(s.ref(answers.RunAnswer), "Completed"),
                     200: _json(s.ref(answers.RunAnswer), "The same completion again (`duplicate`)")},
            errors=(*_BODY, 403, 404, 409))},
        "/api/agent-logs": {
            "post": _op("An agent's batch of log entries", "agent logs", body={"$ref": REF + "AgentLogsPost"},
                        answers={201: _json(s.ref(answers.AgentLogsAccepted), "Stored")}, errors=(*_BODY, 403, 404)),
            "get": _op("Log entries, newest first", "agent logs", params=[
                _query("agentId", {"type": "string"}, "an agent and its pods, or one pod"),
                _limit(MAX_LIMIT, DEFAULT_LIMIT),
                _query("before", {"type": "integer", "minimum": 1}, "entries older than this id")],
                answers={200: _json(_list(s.ref(answers.AgentLogEntryAnswer)), "Entries", {"Link": _PAGED_HEADERS["Link"]})},
                errors=(*_READ, 404)),
        },
        "/api/repo-learnings": {
            "get": _op("A repo's learnings, by key", "learnings", params=[
                _query("repo", {"type": "string", "minLength": 1}, "`owner/name`", required=True)],
                answers={200: _json(_list(s.ref(answers.LearningAnswer)), "Learnings")}, errors=_READ),
            "post": _op("Set a learning", "learnings", body={"$ref": REF + "RepoLearningPost"}, answers={
                201: _json(s.ref(answers.LearningAnswer), "Set (`changed`)"),
                200: _json(s.ref(answers.LearningAnswer), "The key had that value already"),
            }, errors=(*_BODY, 403, 409)),
        },
        "/health": {"get": _op("Whether appends work, and each part of the process", "operations", public=True,
                               answers={200: _json(s.ref(answers.HealthReport), "The database answers")},
                               errors=(503,))},
        "/metrics": {"get": _op("Metrics in the Prometheus text format (or OpenMetrics, by `Accept`)",
                                "operations", answers={200: {"description": "The metrics", "content": {
                                    "text/plain": {"schema": {"type": "string"}},
                                    "application/openmetrics-text": {"schema": {"type": "string"}}}}},
                                errors=(401, 404))},
        "/openapi.json": {"get": _op("This description", "operations", public=True,
                                     answers={200: _json({"type": "object"}, "OpenAPI 3.1")}, errors=())},
    }


def _assignments(s: Schemas) -> dict[str, Any]:
    agent = _query("agentId", {"type": "string"}, "the agent (a pod claims for its agent); also `AgentId`, or the "
                   "body's `agentId`; required one way or the other")
    claimed = {200: _json(s.ref(answers.ClaimAnswer), "The agent's assignment (`claimed`: newly claimed)"),
               204: {"description": "No work for the agent"}}
    body = {"type": "object", "properties": {"agentId": {"type": "string"}, "AgentId": {"type": "string"}}}
    return {
        "get": _op("The agent's assignment, or the queue's head claimed for it (GET claims too)", "rig",
                   params=[agent], answers=claimed, errors=(*_READ, 403)),
        "post": _op("The agent's assignment, or the queue's head claimed for it", "rig", params=[agent],
                    body=body, body_required=False, answers=claimed, errors=(*_BODY, 403)),
        "head": _op("Whether the agent holds or could claim work, without claiming", "rig", params=[agent],
                    answers={200: {"description": "There is work for the agent"}, 204: claimed[204]},
                    errors=(*_READ, 403), bodiless=True),
    }


_IDEMPOTENCY = {"name": "Idempotency-Key", "in": "header", "required": False,
                "description": "like `eventId`, for clients that cannot choose UUIDs",
                "schema": {"type": "string", "pattern": "^[!-~]{1,200}$"}}


def _op(summary: str, tag: str, *, answers: dict[int, Any], errors: Iterable[int], params: Iterable[Schema] = (),
        headers: Iterable[Schema] = (), body: Schema | None = None, body_required: bool = True, public: bool = False,
        bodiless: bool = False) -> dict[str, Any]:
    responses: dict[str, Any] = {str(status): answer for status, answer in sorted(answers.items())}
    for status in sorted(set(errors)):
        responses[str(status)] = {"description": _ERRORS[status]} if bodiless else _json(
            {"$ref": REF + "ErrorBody"}, _ERRORS[status])
    op: dict[str, Any] = {"summary": summary, "tags": [tag], "responses": responses}
    if params or headers:
        op["parameters"] = [*params, *headers]
    if body is not None:
        op["requestBody"] = {"required": body_required, "content": {"application/json": {"schema": body}}}
    if public:
        op["security"] = [{}]
    return op


def _json(schema: Schema, description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description, "content": {"application/json": {"schema": schema}}}
    if headers:
        answer["headers"] = headers
    return answer


def _list(schema: Schema) -> Schema:
    return {"type": "array", "items": schema}


def _query(name: str, schema: Schema, description: str, *, required: bool = False) -> Schema:
    return {"name": name, "in": "query", "required": required, "description": description, "schema": schema}


def _path(name: str, schema: Schema, description: str) -> Schema:
    return {"name": name, "in": "path", "required": True, "description": description, "schema": schema}


def _limit(maximum: int, default: int) -> Schema:
    return _query("limit", {"type": "integer", "minimum": 1, "maximum": maximum, "default": default},
                  "items in the answer")


def _paging() -> list[Schema]:
    return [_limit(MAX_LIMIT, DEFAULT_LIMIT),
            _query("page", {"type": "integer", "minimum": 1, "default": 1}, "which page, from 1")]

