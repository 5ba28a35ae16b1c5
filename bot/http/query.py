"""Query-string and path parsing that answers a clear 400 instead of failing later.

Text values may not hold NUL: PostgreSQL's text cannot, so no id or filter with one can match
anything, and the lookup would fail in the database instead of answering."""

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
    raw = optional_param(request, name)
    if not raw:
        raise ApiError(400, "invalid_query", f"the query parameter {name!r} is required")
    return raw


def optional_param(request: web.Request, name: str) -> str | None:
    """The parameter's text, stripped; None when absent or empty."""
    raw = request.query.get(name, "").strip()
    if "\x00" in raw:
        raise ApiError(400, "invalid_query", f"the query parameter {name!r} must not contain NUL (%00)")
    return raw or None


def path_param(request: web.Request, name: str) -> str:
    raw = request.match_info[name]
    if "\x00" in raw:
        raise ApiError(400, "invalid_path", "the path must not contain NUL (%00)")
    return raw
