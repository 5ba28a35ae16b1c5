"""The aiohttp application factory: ``create_app(deps)`` wires the routes, nothing else."""

from __future__ import annotations

from aiohttp import web

from . import conductor_routes, events_routes
from .app_keys import DEPS, ApiDeps
from .errors import json_errors, no_route


def create_app(deps: ApiDeps) -> web.Application:
    app = web.Application(client_max_size=deps.max_body_bytes)
    app[DEPS] = deps
    for table in (events_routes.routes, conductor_routes.routes):
        for route in table:
            assert isinstance(route, web.RouteDef)
            web.RouteDef(route.method, route.path, json_errors(route.handler), route.kwargs).register(app.router)
    app.router.add_route("*", "/{path:.*}", json_errors(no_route))  # last: what no other route takes
    return app
