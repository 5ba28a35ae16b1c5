"""Fault injection and the request-recording middleware.

How discord.py reacts (2.7.1), which is why the responses look like this:
- 429 is retried only with a ``Via`` header and a JSON body holding
  ``retry_after``; without ``Via`` it assumes a Cloudflare ban and raises.
- 500/502/504/524 are retried after 1 s, 3 s, 5 s... by HTTPClient; the
  webhook adapter (interaction callbacks, followups) retries every 5xx the
  same way. 503 is *not* retried by HTTPClient: it raises DiscordServerError
  at once, which makes 503 the quick "outage" status.
"""

from __future__ import annotations

import logging
import re
from collections import Counter, deque
from dataclasses import dataclass

from aiohttp import web

from .records import FailedRequest
from .wire import API_PREFIX, body_of, discord_error, fake_of, json_response, read_body

_log = logging.getLogger(__name__)


# What Discord answers for the refusals tests inject (status -> JSON error code and message).
_REFUSALS = {
    400: (50035, "Invalid Form Body"),
    403: (50013, "Missing Permissions"),
    404: (10003, "Unknown Channel"),
}


@dataclass
class PlannedFailure:
    status: int
    retry_after: float
    is_global: bool
    match: re.Pattern[str] | None


class FaultInjector:
    def __init__(self) -> None:
        self._planned: deque[PlannedFailure] = deque()
        self.outage_status: int | None = None
        self.failures: list[FailedRequest] = []
        # "METHOD /route/{template}" -> how many times the fake failed it.
        self.failure_counts: Counter[str] = Counter()

    def fail_next(self, n: int, status: int, retry_after: float, match: str | None, is_global: bool) -> None:
        pattern = re.compile(match) if match else None
        for _ in range(n):
            self._planned.append(PlannedFailure(status, retry_after, is_global, pattern))

    @property
    def pending(self) -> int:
        return len(self._planned)

    def take(self, method: str, path: str) -> PlannedFailure | None:
        if self.outage_status is not None:
            return PlannedFailure(self.outage_status, 0.0, False, None)
        target = f"{method} {path}"
        for planned in self._planned:
            if planned.match is None or planned.match.search(target):
                self._planned.remove(planned)
                return planned
        return None

    def record(self, method: str, path: str, route: str, status: int) -> None:
        self.failures.append(FailedRequest(method, path, route, status))
        self.failure_counts[route] += 1

    @staticmethod
    def response(failure: PlannedFailure) -> web.Response:
        if failure.status == 429:
            body = {
                "message": "You are being rate limited.",
                "retry_after": failure.retry_after,
                "global": failure.is_global,
            }
            headers = {
                "Via": "1.1 google",
                "Retry-After": str(max(1, round(failure.retry_after))),
                "X-RateLimit-Scope": "global" if failure.is_global else "user",
            }
            if failure.is_global:
                headers["X-RateLimit-Global"] = "true"
            return json_response(body, status=429, headers=headers)
        if 400 <= failure.status < 500:  # Discord's API refusing the request: its JSON error body
            code, message = _REFUSALS.get(failure.status, (0, "fake-discord injected refusal"))
            return discord_error(failure.status, code, message)
        # Real 5xx from Discord's edge are usually HTML/plain text, not JSON.
        return web.Response(
            status=failure.status, text=f"fake-discord injected {failure.status}", content_type="text/plain"
        )


def route_key(request: web.Request) -> str:
    """``METHOD /template`` of the matched route, e.g. ``POST /channels/{channel_id}/messages``."""
    resource = request.match_info.route.resource
    path = resource.canonical if resource is not None else request.path
    if path.startswith(API_PREFIX):
        path = path[len(API_PREFIX) :]
    return f"{request.method} {path}"


# Routes discord.py calls without an Authorization header.
_UNAUTHENTICATED = re.compile(r"^/(interactions|webhooks)/")


@web.middleware
async def api_middleware(request: web.Request, handler: web.Handler) -> web.StreamResponse:
    if not request.path.startswith(API_PREFIX + "/"):
        return await handler(request)  # the gateway websocket
    fake = fake_of(request)
    # Waiters (wait_for, wait_callback) are woken only once the response is
    # written: otherwise a test could inject a click that reaches the bot
    # before the response that makes the bot register the clicked view.
    fake._hold_changes()
    try:
        response = await _answer(request, handler)
        await response.prepare(request)
        await response.write_eof()
        return response
    finally:
        fake._release_changes()


async def _answer(request: web.Request, handler: web.Handler) -> web.StreamResponse:
    fake = fake_of(request)
    path = request.path[len(API_PREFIX) :]
    await read_body(request)
    fake._record_request(request.method, path, body_of(request))

    failure = fake.faults.take(request.method, path)
    if failure is not None:
        fake.faults.record(request.method, path, route_key(request), failure.status)
        fake._changed()
        return FaultInjector.response(failure)

    if request.match_info.http_exception is not None:
        _log.warning("fake discord has no route for %s %s", request.method, path)
        fake.unhandled.append((request.method, path))
        fake._changed()
        return discord_error(404, 0, "404: Not Found")

    if not _UNAUTHENTICATED.match(path):
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bot ") or (fake.token is not None and auth != f"Bot {fake.token}"):
            return discord_error(401, 0, "401: Unauthorized")

    try:
        return await handler(request)
    except Exception as exc:  # a bug in the fake: record it, answer fast
        _log.exception("fake discord failed on %s %s", request.method, path)
        fake.errors.append(f"{request.method} {path}: {exc!r}")
        fake._changed()
        # 400 rather than 500, so discord.py does not retry for 16 s.
        return discord_error(400, 0, f"fake discord internal error: {exc!r}")
