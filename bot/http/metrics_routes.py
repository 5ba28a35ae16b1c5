"""GET /metrics: the service's metrics for Prometheus (``bot.metrics``).

The same credential rule as the API's other reads: open in the open mode; in the tokens mode a
valid token, an agent's or an operator's (a Prometheus scrape job sends one with ``authorization``).
"""

from __future__ import annotations

from aiohttp import web

from .app_keys import DEPS
from .errors import ApiError

routes = web.RouteTableDef()


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    """The Prometheus text format, or OpenMetrics when the scraper's ``Accept`` asks for it."""
    counted = request.app[DEPS].metrics
    if counted is None:  # an app built without them (tests of other routes)
        raise ApiError(404, "not_found", "this service keeps no metrics")
    body, content_type = await counted.exposition(request.headers.get("Accept"))
    return web.Response(body=body, headers={"Content-Type": content_type})
