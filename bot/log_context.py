"""What a log line is about, where the code that logs it does not say: the HTTP request being
answered and the stream being worked on, kept in context variables.

aiohttp answers each request in a task of its own and the notifier delivers each stream in one,
so a value set there is seen by every line logged in that task (the access log line included) and
by no other. Setting them costs a context-variable write; the request id itself is only made when
a line or an answer needs it.
"""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

from aiohttp import web

REQUEST: ContextVar[web.BaseRequest | None] = ContextVar("request", default=None)
STREAM: ContextVar[str | None] = ContextVar("stream_id", default=None)
REQUEST_ID = web.RequestKey("request_id", str)
# An id a proxy in front of us already gave the request is kept (so its log and ours agree) when
# it looks like an id; anything else is replaced.
_GIVEN_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")


def request_id(request: web.BaseRequest) -> str:
    """The request's id: its ``X-Request-Id`` when it sent a sane one, else one made here (once)."""
    known = request.get(REQUEST_ID)
    if known is None:
        given = request.headers.get("X-Request-Id", "")
        known = request[REQUEST_ID] = given if _GIVEN_ID.match(given) else uuid.uuid4().hex[:16]
    return known


def current_request_id() -> str | None:
    request = REQUEST.get()
    return request_id(request) if request is not None else None
