"""A small blocking client of a running service's HTTP API, for the commands people type
(``conductor-e emit``, ``conductor-e status``). One request at a time: no event loop needed."""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

import orjson

TIMEOUT = 10.0  # seconds for one request


class Refused(Exception):
    """The service answered 4xx or 5xx: ``status``, its ``error`` code and message, the body."""

    def __init__(self, status: int, code: str, message: str, body: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.body = status, code, message, body

    def line(self) -> str:
        """One line, with the fields the service named as wrong."""
        problems = self.body.get("problems") if isinstance(self.body, dict) else None
        named = [f"{p.get('field') or 'body'}: {p.get('message')}" for p in problems or [] if isinstance(p, dict)]
        named = [n for n in named if n not in self.message]  # most messages name them already
        return f"{self.status} {self.code}: {self.message}" + (f" ({'; '.join(named)})" if named else "")


class Unreachable(Exception):
    """No answer: nothing listening, a name that does not resolve, a timeout."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    total: int | None  # X-Total-Count, for the paged lists


class ApiClient:
    def __init__(self, base_url: str, token: str | None = None, timeout: float = TIMEOUT) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._timeout = timeout

    def get(self, path: str) -> Answer:
        return self._call("GET", path, None)

    def post(self, path: str, body: Any) -> Answer:
        return self._call("POST", path, orjson.dumps(body))

    def _call(self, method: str, path: str, data: bytes | None) -> Answer:
        headers = {"Accept": "application/json", "User-Agent": "conductor-e-cli"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        request = urllib.request.Request(self.base_url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as resp:  # noqa: S310 - a URL the user gave
                return Answer(resp.status, _json(resp.read()), _int(resp.headers.get("X-Total-Count")))
        except urllib.error.HTTPError as exc:
            body = _json(exc.read())
            code = body.get("error", "") if isinstance(body, dict) else ""
            message = body.get("message", "") if isinstance(body, dict) else ""
            raise Refused(exc.code, code or str(exc.reason).lower().replace(" ", "_"), message or str(exc.reason),
                          body) from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            raise Unreachable(f"cannot reach {self.base_url}: {reason}") from None


def _json(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.decode(errors="replace")


def _int(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None
