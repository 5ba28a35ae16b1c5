"""The aiohttp application factory: ``create_app(deps)`` wires the routes and the one middleware."""

from __future__ import annotations

from aiohttp import web

from ..logs import Throttle
from . import (
    agent_logs_routes,
    conductor_routes,
    events_routes,
    execution_logs_routes,
    merge_routes,
    metrics_routes,
    openapi_routes,
    repo_learnings_routes,
)
from .app_keys import DEPS, ApiDeps
from .auth import authenticate
from .errors import UNAVAILABLE_LINES, json_errors

# Answered without a credential in every mode: probes, and the API's description.
PUBLIC = {("GET", "/health"), ("GET", "/openapi.json")}


def create_app(deps: ApiDeps) -> web.Application:
    tables = (events_routes.routes, conductor_routes.routes, merge_routes.routes, execution_logs_routes.routes,
              agent_logs_routes.routes, repo_learnings_routes.routes, metrics_routes.routes,
              openapi_routes.routes)
    public = {route.handler for table in tables for route in table
              if isinstance(route, web.RouteDef) and (route.method, route.path) in PUBLIC}
    observe = deps.metrics.count_request if deps.metrics is not None else None
    app = web.Application(client_max_size=deps.max_body_bytes,
                          middlewares=[json_errors(authenticate, public, observe)], handler_args={
        # Bodies are inflated by us, bounded by the size limit (bodies.py), never by aiohttp's parser.
        "auto_decompress": False,
        # aiohttp closes a connection that has not sent a complete request's headers within this
        # (slow or stalled clients), and an idle keep-alive connection after it.
        "keepalive_timeout": deps.http_timeout,
    })
    app[DEPS] = deps
    app[UNAVAILABLE_LINES] = Throttle()
    for table in tables:
        app.router.add_routes(table)
    if deps.metrics is not None:  # the route label: each handler's path as declared, never the path requested
        deps.metrics.name_routes({route.handler: route.resource.canonical for route in app.router.routes()
                                  if route.resource is not None})
    return app
