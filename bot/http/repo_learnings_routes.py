"""/api/repo-learnings: what agents learned about each repo, the latest value per key."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from eventstore.authorization import NotPermitted
from eventstore.learnings import TooManyLearnings, is_repo, record_learning
from eventstore.projections.repo_learnings import Learning
from eventstore.submission import InvalidSubmission

from . import render
from .app_keys import DEPS
from .auth import CALLER, refusal
from .errors import ApiError, json_response
from .json_input import json_body, refused
from .query import required_param

routes = web.RouteTableDef()


def learning_json(repo: str, learning: Learning) -> dict[str, Any]:
    """``key`` and ``value`` (what the runtime renders into its prompt), who set it and when."""
    return {"repo": repo, "key": learning.key, "value": learning.value, "setBy": learning.set_by,
            "updatedAt": render.timestamp(learning.updated_at)}


@routes.get("/api/repo-learnings")
async def list_learnings(request: web.Request) -> web.Response:
    """A JSON array of the repo's learnings by key; [] for a repo with none."""
    deps = request.app[DEPS]
    repo = required_param(request, "repo")
    if not is_repo(repo):
        raise ApiError(400, "invalid_query", f"repo must be owner/name (no spaces or '#'), not {repo[:200]!r}")
    found = await deps.read_models.repo_learnings(repo)
    return json_response([learning_json(repo, item) for item in found.learnings] if found else [])


@routes.post("/api/repo-learnings")
async def set_learning(request: web.Request) -> web.Response:
    """201 with the learning as now kept; 200 (``changed: false``) when it already had that value."""
    deps = request.app[DEPS]
    body = await json_body(request)
    try:
        recorded = await record_learning(deps.store, body, request[CALLER])
    except NotPermitted as exc:
        raise refusal(exc) from None
    except InvalidSubmission as exc:
        raise refused(exc) from None
    except TooManyLearnings as exc:
        raise ApiError(409, "too_many_learnings", str(exc)) from None
    answer = {**learning_json(recorded.repo, recorded.learning), "changed": recorded.changed}
    return json_response(answer, 201 if recorded.changed else 200)
