"""Who is calling: the bearer token's caller, checked before any route but ``GET /health`` runs.

Two modes (README, "Security"):
- **open** (no ``CONDUCTOR_E_AGENT_TOKENS``): requests without a credential are ANONYMOUS, as the
  agent runtimes of today send none; a token that is sent must still be valid.
- **tokens** (agent tokens configured): every route needs a valid token.
Human decisions need an operator token in both modes (``eventstore.authorization``).
"""

from __future__ import annotations

from aiohttp import web

from eventstore.authorization import Caller, NotPermitted, Role

from ..credentials import InvalidCredential
from .app_keys import DEPS
from .errors import ApiError

CALLER = web.RequestKey("caller", Caller)
_CHALLENGE = 'Bearer realm="conductor-e"'


def authenticate(request: web.Request) -> None:
    """Set ``request[CALLER]``; a 401 ApiError when the credential is missing (in tokens mode)
    or not valid. The token is never part of an answer or a log line."""
    credentials = request.app[DEPS].credentials
    try:
        caller = credentials.caller(request.headers.get("Authorization"))
    except InvalidCredential as exc:
        raise ApiError(401, "invalid_credential", str(exc),
                       headers={"WWW-Authenticate": f'{_CHALLENGE}, error="invalid_token"'}) from None
    if caller.role is Role.ANONYMOUS and credentials.agents_required:
        raise ApiError(401, "missing_credential",
                       "this service needs a credential: send Authorization: Bearer <token>",
                       headers={"WWW-Authenticate": _CHALLENGE})
    request[CALLER] = caller


def has_valid_token(request: web.Request) -> bool:
    """Whether the request carries a valid bearer token (for a public route's details)."""
    try:
        return request.app[DEPS].credentials.caller(request.headers.get("Authorization")).role is not Role.ANONYMOUS
    except InvalidCredential:
        return False


def refusal(exc: NotPermitted) -> ApiError:
    """401 when a credential would help (none was sent), 403 when the one sent may not."""
    if exc.needs_credential:
        return ApiError(401, exc.code, exc.message, headers={"WWW-Authenticate": _CHALLENGE})
    return ApiError(403, exc.code, exc.message)
