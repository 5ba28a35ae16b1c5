"""POST /api/merge: a review agent asks the conductor to merge a pull request, guarded by the gate."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from aiohttp import web

from eventstore.authorization import NotPermitted
from eventstore.merge import (
    MergeBlocked,
    MergeNotRecorded,
    MergeRefused,
    MergerFailed,
    MergerUnavailable,
    UnknownPullRequest,
    merge_pull_request,
    parse_merge_request,
    requester,
)
from eventstore.submission import InvalidSubmission

from . import render
from .app_keys import DEPS
from .auth import CALLER, refusal
from .bodies import read_body
from .errors import ApiError, json_response

log = logging.getLogger(__name__)
routes = web.RouteTableDef()


@routes.post("/api/merge")
async def merge(request: web.Request) -> web.Response:
    """200 with the merge's sha once GitHub merged and MERGED is stored; 409 while the rig's rules
    forbid it or when GitHub refuses; nothing is called or stored for a refusal."""
    deps = request.app[DEPS]
    body = await _json_body(request)
    try:
        wanted = parse_merge_request(body)
        asked_by = requester(request[CALLER], wanted.agent_id)
    except InvalidSubmission as exc:
        status = 400 if exc.code == "invalid_body" else 422
        raise ApiError(status, exc.code, str(exc), problems=[p.as_json() for p in exc.problems]) from None
    except NotPermitted as exc:
        raise refusal(exc) from None
    if deps.merger is None:
        raise ApiError(501, "merge_not_configured", "this service cannot merge: GITHUB_TOKEN is not set")
    pr: dict[str, Any] = {"repo": wanted.repo, "prNumber": wanted.pr_number}
    try:
        outcome = await merge_pull_request(deps.store, deps.read_models, deps.merger, wanted, asked_by)
    except UnknownPullRequest as exc:
        raise ApiError(404, "pr_not_found", str(exc), **pr) from None
    except MergeBlocked as exc:
        raise ApiError(409, "merge_blocked", exc.message, reason=exc.code, streamId=exc.stream_id, **pr) from None
    except MergeRefused as exc:
        raise ApiError(409, "merge_refused", f"GitHub refused the merge: {exc.message}", githubStatus=exc.status,
                       **pr) from None
    except MergerFailed as exc:
        raise ApiError(502, "github_error", f"GitHub answered {exc.status}: {exc.message}", githubStatus=exc.status,
                       **pr) from None
    except MergerUnavailable as exc:
        raise ApiError(503, "github_unavailable", str(exc), headers={"Retry-After": "5"}, **pr) from None
    except MergeNotRecorded as exc:
        # Merged on GitHub, lost here: the one case an operator must record by hand (MERGED with this sha).
        log.error("%s#%d was merged as %s at the request of %s, but MERGED could not be stored: %s",
                  wanted.repo, wanted.pr_number, exc.sha, asked_by, exc.__cause__)
        raise ApiError(503, "merge_not_recorded", f"GitHub merged the PR as {exc.sha}, but the event store is "
                       "unavailable: MERGED is not recorded", sha=exc.sha, headers={"Retry-After": "1"}, **pr) from None
    answer: dict[str, Any] = {**pr, "merged": True, "sha": outcome.sha, "requestedBy": asked_by,
                              "events": [render.append_answer(r.recorded, r.duplicate) for r in outcome.appended]}
    return json_response(answer)


async def _json_body(request: web.Request) -> Any:
    deps = request.app[DEPS]
    raw = await read_body(request, deps.max_body_bytes, deps.http_timeout)
    try:
        return orjson.loads(raw)  # JSON is UTF-8 (RFC 8259) whatever charset the header names
    except orjson.JSONDecodeError as exc:
        if "depth limit" in str(exc):
            raise ApiError(400, "too_deeply_nested", "the body is nested too deeply") from None
        raise ApiError(400, "malformed_json", f"the body is not valid JSON: {exc}") from None
