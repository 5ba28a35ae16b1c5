"""The SubmitEvent use case's pure half: a JSON body in any casing -> a ``PendingEvent``.

Envelope fields (not part of the event's data): ``type``, ``eventId`` (a client-chosen UUID that
makes retries idempotent) and ``expectedVersion`` (optimistic concurrency). An
``Idempotency-Key`` header works like ``eventId`` for clients that cannot choose UUIDs.
Every problem is reported at once, with the field named as the client spelled it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from pydantic_core import PydanticSerializationError

from .events import KNOWN_TYPES, UnknownEventType, event_class
from .ids import new_event_id
from .naming import camel_key, snake_key
from .store import PendingEvent
from .streams import Unroutable, route

IDEMPOTENCY_NAMESPACE = uuid.UUID("0b0c6f0e-4a43-4c5e-9a44-1d6f3e6e2c11")
# Events are flat (the deepest known field, HEARTBEAT's providers, is 3 levels down); the key walk
# refuses a body as soon as it reaches a deeper level, so its recursion stays bounded.
MAX_DEPTH = 32


@dataclass(frozen=True)
class Problem:
    field: str | None
    message: str

    def as_json(self) -> dict[str, Any]:
        return {"field": self.field, "message": self.message}


class InvalidSubmission(ValueError):
    """The body cannot become an event. ``code`` is a stable machine-readable reason."""

    def __init__(self, code: str, message: str, problems: list[Problem] | None = None,
                 extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.problems = problems or []
        self.extra = extra or {}


def parse_submission(body: Any, idempotency_key: str | None = None) -> PendingEvent:
    if not isinstance(body, dict):
        raise InvalidSubmission("invalid_body", "the body must be a JSON object")
    # One pass over the body: envelope fields set apart, keys snake_cased at every level (nested
    # models such as HEARTBEAT's providers arrive in any casing too), nesting bounded.
    data: dict[str, Any] = {  # keys of a parsed JSON object are str
        snake_key(key): _snake_nested(value, 2) if isinstance(value, (dict, list)) else value
        for key, value in body.items()
    }
    wire_name = data.pop("type", None)
    raw_event_id = data.pop("event_id", None)
    raw_expected = data.pop("expected_version", None)

    if not isinstance(wire_name, str) or not wire_name:
        raise InvalidSubmission(
            "missing_type", "the field 'type' is required: the event type, e.g. ISSUE_APPROVED",
            [Problem("type", "required")], {"knownTypes": list(KNOWN_TYPES)},
        )
    event_id = _event_id(raw_event_id, idempotency_key)
    expected = _expected_version(raw_expected)
    try:
        event = event_class(wire_name.strip().upper()).model_validate(data)
    except UnknownEventType:
        raise InvalidSubmission(
            "unknown_event_type",
            f"unknown event type {wire_name!r}; known types: {', '.join(KNOWN_TYPES)}",
            [Problem("type", "unknown event type")], {"knownTypes": list(KNOWN_TYPES)},
        ) from None
    except ValidationError as exc:
        spelled = {snake_key(str(k)): str(k) for k in body}  # only on the error path
        problems = [_problem(err, spelled) for err in exc.errors(include_url=False, include_input=False)]
        summary = "; ".join(f"{p.field}: {p.message}" if p.field else p.message for p in problems)
        raise InvalidSubmission("invalid_fields", f"invalid {wire_name.upper()}: {summary}", problems) from None
    try:
        stream = route(event)
    except Unroutable as exc:
        raise InvalidSubmission("unroutable", str(exc), [Problem("agentId", "required")]) from None
    chosen = raw_event_id is not None or bool(idempotency_key)
    pending = PendingEvent(event, stream, event_id, expected, may_exist=chosen)
    _ensure_storable(pending)
    return pending


def _event_id(raw: Any, idempotency_key: str | None) -> uuid.UUID:
    if raw is not None:
        try:
            return uuid.UUID(str(raw))
        except ValueError:
            raise InvalidSubmission("invalid_fields", "eventId must be a UUID",
                                    [Problem("eventId", "must be a UUID")]) from None
    if idempotency_key:
        if len(idempotency_key) > 200:
            raise InvalidSubmission("invalid_idempotency_key", "Idempotency-Key is longer than 200 characters")
        return uuid.uuid5(IDEMPOTENCY_NAMESPACE, idempotency_key)
    return new_event_id()


def _expected_version(raw: Any) -> int | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
        raise InvalidSubmission("invalid_fields", "expectedVersion must be a whole number >= 0",
                                [Problem("expectedVersion", "must be a whole number >= 0")])
    return raw


def _problem(err: Any, spelled: dict[str, str]) -> Problem:
    loc = [str(p) for p in err.get("loc", ())]
    if loc:
        top = spelled.get(loc[0], camel_key(loc[0]))
        field = ".".join([top, *(camel_key(p) for p in loc[1:])])
    else:
        field = None
    message = err.get("msg", "invalid")
    if err.get("type") == "missing":
        message = "required"
    return Problem(field, message)


def _ensure_storable(pending: PendingEvent) -> None:
    # PostgreSQL's jsonb refuses NUL characters, and lone surrogates cannot be encoded as UTF-8;
    # refusing them here keeps a bad event from ever reaching (and failing) a shared transaction.
    # The check reads the very JSON text the store will write (computed once, reused by the
    # writer): a NUL appears there as the escape \u0000 (a literal backslash-u0000 typed by a client
    # also matches, so a hit is confirmed on the values), and a surrogate makes the encoding fail.
    try:
        text = pending.data_json
    except PydanticSerializationError:
        raise InvalidSubmission("invalid_text", "a text field holds an invalid Unicode surrogate") from None
    if b"\\u0000" in text and any("\x00" in s for s in _strings(pending.data)):
        raise InvalidSubmission("invalid_text", "text fields must not contain NUL characters")


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _snake_nested(value: dict[Any, Any] | list[Any], depth: int) -> dict[str, Any] | list[Any]:
    """``value`` (at nesting ``depth``; the body is 1) with snake_case keys at every level.
    Refuses nesting deeper than MAX_DEPTH, so the recursion is bounded by it."""
    if depth > MAX_DEPTH:
        raise InvalidSubmission("too_deeply_nested", f"the body is nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, dict):
        return {snake_key(str(k)): _snake_nested(v, depth + 1) if isinstance(v, (dict, list)) else v
                for k, v in value.items()}
    return [_snake_nested(v, depth + 1) if isinstance(v, (dict, list)) else v for v in value]
