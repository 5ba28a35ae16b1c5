"""The aiohttp application factory: ``create_app(deps)`` wires routes and middleware, nothing else."""

from __future__ import annotations

from aiohttp import web

from . import conductor_routes, events_routes
from .app_keys import DEPS, ApiDeps
from .errors import error_middleware


def create_app(deps: ApiDeps) -> web.Application:
    app = web.Application(middlewares=[error_middleware], client_max_size=deps.max_body_bytes)
    app[DEPS] = deps
    app.add_routes(events_routes.routes)
    app.add_routes(conductor_routes.routes)
    return app
