"""The aiohttp application factory: ``create_app(deps)`` wires the routes, nothing else."""

from __future__ import annotations

from aiohttp import web

from ..logs import Throttle
from . import agent_logs_routes, conductor_routes, events_routes, execution_logs_routes, repo_learnings_routes
from .app_keys import DEPS, ApiDeps
from .auth import authenticate
from .errors import UNAVAILABLE_LINES, json_errors, no_route

PUBLIC = {("GET", "/health")}  # answered without a credential in every mode (probes)


def create_app(deps: ApiDeps) -> web.Application:
    app = web.Application(client_max_size=deps.max_body_bytes, handler_args={
        # Bodies are inflated by us, bounded by the size limit (bodies.py), never by aiohttp's parser.
        "auto_decompress": False,
        # aiohttp closes a connection that has not sent a complete request's headers within this
        # (slow or stalled clients), and an idle keep-alive connection after it.
        "keepalive_timeout": deps.http_timeout,
    })
    app[DEPS] = deps
    app[UNAVAILABLE_LINES] = Throttle()
    for table in (events_routes.routes, conductor_routes.routes, execution_logs_routes.routes,
                  agent_logs_routes.routes, repo_learnings_routes.routes):
        for route in table:
            assert isinstance(route, web.RouteDef)
            before = None if (route.method, route.path) in PUBLIC else authenticate
            web.RouteDef(route.method, route.path, json_errors(route.handler, before),
                         route.kwargs).register(app.router)
    # Last: what no other route takes. Behind the credential check too, so that without one the
    # answer does not tell which paths exist.
    app.router.add_route("*", "/{path:.*}", json_errors(no_route, authenticate))
    return app
