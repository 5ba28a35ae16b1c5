"""GET /openapi.json: the API's OpenAPI 3.1 description (``openapi``). Public, like /health."""

from __future__ import annotations

from functools import cache

import orjson
from aiohttp import web

from .openapi import document

routes = web.RouteTableDef()


@routes.get("/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    return web.Response(body=_encoded(), content_type="application/json")


@cache
def _encoded() -> bytes:
    return orjson.dumps(document())  # ~150 kB, the same for the process's life: encoded once
