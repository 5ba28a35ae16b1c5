"""The aiohttp floor: what serving the append load costs with no work behind it.

    python aiohttp_floor.py --host 127.0.0.1 --port 8081

The same stack and settings as ``conductor-e serve`` (aiohttp on uvloop, no access log, one
middleware answering errors as the service's does, answers built with orjson), but
``POST /api/events`` only reads the body (with the service's own ``read_body``, so the project must be
installed, as ``bench/run.py`` ensures) and parses it, and answers a constant 201 of the same shape.
Run under the same load as the service, its rate is the
most any handler on this stack could reach on this machine, so HTTP/floor says how much of the
service's rate its own work (validation, the store, the database) costs, and floor/raw how far the
HTTP layer alone stands from the raw INSERT rate. ``GET /health`` answers 200 so the harness can
wait for it like for the service.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable

import orjson
from aiohttp import web

from bot.http.bodies import read_body

MAX_BODY_BYTES = 256 * 1024  # the service's defaults
HTTP_TIMEOUT = 15.0

ANSWER = orjson.dumps({"streamId": "acme/app#417", "type": "TOOL_USED", "timestamp": "2026-11-29T03:00:00.000000Z",
                       "version": 1, "sequence": 1, "eventId": "0193a4f2-0000-7000-8000-000000000000",
                       "duplicate": False})


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """One middleware around every handler, as the service's (``bot.http.errors.json_errors``)."""
    try:
        return await handler(request)
    except Exception:
        return web.Response(body=b'{"error":"internal_error"}', status=500, content_type="application/json")


async def submit(request: web.Request) -> web.Response:
    orjson.loads(await read_body(request, MAX_BODY_BYTES, HTTP_TIMEOUT))  # the service's own way of reading the body
    return web.Response(body=ANSWER, status=201, content_type="application/json")


async def health(request: web.Request) -> web.Response:
    return web.Response(body=b'{"status":"ok"}', content_type="application/json")


def make_app() -> web.Application:
    # The service's own server settings (bot/http/app.py): bodies inflated by read_body, not by aiohttp.
    app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[errors],
                          handler_args={"auto_decompress": False, "keepalive_timeout": HTTP_TIMEOUT})
    app.router.add_post("/api/events", submit)
    app.router.add_get("/health", health)
    return app


async def serve(host: str, port: int) -> None:
    app = make_app()
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port, reuse_address=True).start()
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:  # as the service: asyncio's own loop where uvloop is not available
        asyncio.run(serve(args.host, args.port))
        return
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
