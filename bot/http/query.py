"""Query-string parsing that answers a clear 400 instead of failing later."""

from __future__ import annotations

from aiohttp import web

from .errors import ApiError


def int_param(request: web.Request, name: str, default: int, *, minimum: int = 0,
              maximum: int = 2**62) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "invalid_query", f"{name} must be a whole number, not {raw!r}") from None
    if not minimum <= value <= maximum:
        raise ApiError(400, "invalid_query", f"{name} must be between {minimum} and {maximum}")
    return value


def required_param(request: web.Request, name: str) -> str:
    raw = request.query.get(name, "").strip()
    if not raw:
        raise ApiError(400, "invalid_query", f"the query parameter {name!r} is required")
    return raw
