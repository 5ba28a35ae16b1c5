"""The SubmitEvent use case's pure half: a JSON body in any casing -> a ``PendingEvent``.

Envelope fields (not part of the event's data): ``type``, ``eventId`` (a client-chosen UUID that
makes retries idempotent) and ``expectedVersion`` (optimistic concurrency). An
``Idempotency-Key`` header works like ``eventId`` for clients that cannot choose UUIDs.
Every problem is reported at once, with the field named as the client spelled it.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import ValidationError
from pydantic_core import PydanticSerializationError

from .authorization import ANONYMOUS, Caller, check_event, decider_for, is_decision
from .events import KNOWN_TYPES, Event, ObservabilityEvent, UnknownEventType, event_class
from .ids import is_derived, new_event_id
from .naming import spellings
from .store import PendingEvent
from .streams import Unroutable, route

IDEMPOTENCY_NAMESPACE = uuid.UUID("0b0c6f0e-4a43-4c5e-9a44-1d6f3e6e2c11")
# Events are flat (the deepest known field, HEARTBEAT's providers, is 3 levels down); a body nested
# deeper than this is refused before anything else reads it.
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


# The envelope's fields in every spelling a body may use, in the order the models try them.
_TYPE = spellings("type")
_EVENT_ID = spellings("event_id")
_EXPECTED = spellings("expected_version")
_ENVELOPE = frozenset(_TYPE + _EVENT_ID + _EXPECTED)
_JUST_TYPE = frozenset({"type"})  # what nearly every body carries of the envelope
_CONTAINERS = frozenset({dict, list})  # what orjson makes of JSON objects and arrays


def parse_submission(body: Any, idempotency_key: str | None = None, caller: Caller = ANONYMOUS) -> PendingEvent:
    """``body`` as the event ``caller`` may append; InvalidSubmission, or NotPermitted when the
    caller may not post it (see ``authorization``)."""
    if type(body) is not dict:
        raise InvalidSubmission("invalid_body", "the body must be a JSON object")
    if not _CONTAINERS.isdisjoint(map(type, body.values())) and _too_deep(body, 1):
        raise InvalidSubmission("too_deeply_nested", f"the body is nested more than {MAX_DEPTH} levels deep")
    # The event's fields are read by its model in any casing (naming.accepted_names); the envelope
    # (not part of the event) is looked up here, and the model ignores it like any unknown field.
    if _ENVELOPE.intersection(body) == _JUST_TYPE:
        wire_name, raw_event_id, raw_expected = body["type"], None, None
    else:
        wire_name, raw_event_id, raw_expected = _pick(body, _TYPE), _pick(body, _EVENT_ID), _pick(body, _EXPECTED)

    if not isinstance(wire_name, str) or not wire_name:
        raise InvalidSubmission(
            "missing_type", "the field 'type' is required: the event type, e.g. ISSUE_APPROVED",
            [Problem("type", "required")], {"knownTypes": list(KNOWN_TYPES)},
        )
    event_id = new_event_id() if raw_event_id is None and not idempotency_key else _event_id(raw_event_id,
                                                                                           idempotency_key)
    expected = None if raw_expected is None else _expected_version(raw_expected)
    try:
        cls = event_class(wire_name.strip().upper())
    except UnknownEventType:
        raise InvalidSubmission(
            "unknown_event_type",
            f"unknown event type {wire_name!r}; known types: {', '.join(KNOWN_TYPES)}",
            [Problem("type", "unknown event type")], {"knownTypes": list(KNOWN_TYPES)},
        ) from None
    if cls.own_route is not None:
        raise InvalidSubmission(
            "unknown_event_type", f"{cls.wire_name} is recorded through {cls.own_route}, not /api/events",
            [Problem("type", f"recorded through {cls.own_route}")], {"knownTypes": list(KNOWN_TYPES)},
        )
    if is_decision(cls):
        # Before the fields are checked: who decided comes from the credential, never the body.
        body = _with_fields(body, decider_for(caller, cls).stamp())
    try:
        # The model's validator itself: model_validate is a Python wrapper around this one call.
        event = cls.__pydantic_validator__.validate_python(body)
    except ValidationError as exc:
        raise invalid_fields(exc, wire_name.upper()) from None
    check_event(caller, event)
    event, data_json, warnings = _storable(event)  # before routing: the stream id comes from these fields
    try:
        stream = route(event)
    except Unroutable as exc:
        raise InvalidSubmission("unroutable", str(exc), [Problem("agentId", "required")]) from None
    chosen = raw_event_id is not None or bool(idempotency_key)
    return PendingEvent(event, stream, event_id, expected, chosen,  # may_exist: a chosen id
                        data_json=data_json, fingerprint=fingerprint(cls.alias, data_json) if chosen else None,
                        warnings=warnings)


def _storable(event: Event) -> tuple[Event, bytes, tuple[str, ...]]:
    """``event`` as it can be stored, its JSON text, and what was changed to store it.

    PostgreSQL's jsonb refuses NUL. An analytics event with NUL in its text has it replaced by
    U+FFFD (a tool's output or a memory query is worth keeping all the same), with a warning per
    field; any other event is refused. Only a body whose text shows a NUL pays for the search."""
    try:
        return event, _storable_json(event), ()
    except _HoldsNul:
        if not isinstance(event, ObservabilityEvent):
            raise InvalidSubmission("invalid_text", "text fields must not contain NUL characters") from None
    changed = {name: value.replace("\x00", "\ufffd") for name, value in event.__dict__.items()
               if isinstance(value, str) and "\x00" in value}  # analytics events are flat
    event = event.model_copy(update=changed)
    warnings = tuple(f"{spellings(name)[0]}: NUL replaced with U+FFFD" for name in changed)
    return event, _storable_json(event), warnings


class _HoldsNul(Exception):
    pass


def fingerprint(alias: str, data_json: bytes) -> bytes:
    """What identifies an event's content for idempotency: its stored type and body (the body in
    the models' canonical form, so spelling and key order do not matter)."""
    return hashlib.sha256(alias.encode() + b"\n" + data_json).digest()


def _with_fields(body: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    """``body`` with ``fields`` (snake_case names) set, every other spelling of them dropped."""
    replaced = {name for field in fields for name in spellings(field)}
    return {**{k: v for k, v in body.items() if k not in replaced},
            **{spellings(field)[0]: value for field, value in fields.items()}}


def _pick(body: dict[str, Any], spellings: tuple[str, ...]) -> Any:
    """The envelope field under the first of its spellings the body has, else None."""
    for name in spellings:
        if name in body:
            return body[name]
    return None


def _event_id(raw: Any, idempotency_key: str | None) -> uuid.UUID:
    if raw is not None:
        try:
            chosen = uuid.UUID(str(raw))
        except ValueError:
            raise InvalidSubmission("invalid_fields", "eventId must be a UUID",
                                    [Problem("eventId", "must be a UUID")]) from None
        if is_derived(chosen):
            raise InvalidSubmission(
                "reserved_event_id", "eventId: version-8 UUIDs are reserved for the follow-ups the rig's rules "
                "append; choose another version (4 or 7)", [Problem("eventId", "version 8 is reserved")])
        return chosen
    if idempotency_key:
        if len(idempotency_key) > 200:
            raise InvalidSubmission("invalid_idempotency_key", "Idempotency-Key is longer than 200 characters")
        return _idempotent_id(idempotency_key)
    return new_event_id()


def _idempotent_id(key: str) -> uuid.UUID:
    """``uuid.uuid5(IDEMPOTENCY_NAMESPACE, key)`` over the key's bytes as the client sent them.

    aiohttp hands header values over decoded with ``surrogateescape``, so a key that is not UTF-8
    arrives holding lone surrogates, which ``uuid5`` (UTF-8 only) cannot encode. Encoding back
    the same way gives the client's own bytes: any key works, and a UTF-8 key gets the id it
    always had."""
    digest = hashlib.sha1(IDEMPOTENCY_NAMESPACE.bytes + key.encode("utf-8", "surrogateescape")).digest()
    return uuid.UUID(bytes=digest[:16], version=5)


def _expected_version(raw: Any) -> int | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
        raise InvalidSubmission("invalid_fields", "expectedVersion must be a whole number >= 0",
                                [Problem("expectedVersion", "must be a whole number >= 0")])
    return raw


def invalid_fields(exc: ValidationError, what: str) -> InvalidSubmission:
    """``invalid_fields``, naming every field pydantic refused in a body describing ``what``."""
    problems = [_problem(err) for err in exc.errors(include_url=False, include_input=False)]
    summary = "; ".join(f"{p.field}: {p.message}" if p.field else p.message for p in problems)
    return InvalidSubmission("invalid_fields", f"invalid {what}: {summary}", problems)


def _problem(err: Any) -> Problem:
    # Pydantic names a field by the spelling the body used, or camelCase when it is missing
    # (the first of naming.accepted_names); list positions are numbers.
    loc = err.get("loc", ())
    field = ".".join(str(p) for p in loc) if loc else None
    message = err.get("msg", "invalid")
    if err.get("type") == "missing":
        message = "required"
    return Problem(field, message)


def _storable_json(event: Event) -> bytes:
    """The JSON text the store will write for ``event`` (``Event.stored_json``); InvalidSubmission
    for a lone surrogate, ``_HoldsNul`` for a NUL.

    PostgreSQL's jsonb refuses NUL characters, and lone surrogates cannot be encoded as UTF-8;
    finding them here keeps a bad event from ever reaching (and failing) a shared transaction.
    The check reads that very text, made once and handed to the store: a NUL appears there as
    the escape \\u0000 (a literal backslash-u0000 typed by a client also matches, so a hit is
    confirmed on the values), and a surrogate makes the encoding fail."""
    try:
        text = event.stored_json()
    except PydanticSerializationError:
        raise InvalidSubmission("invalid_text", "a text field holds an invalid Unicode surrogate") from None
    if b"\\u0000" in text and any("\x00" in s for s in _strings(orjson.loads(text))):
        raise _HoldsNul
    return text


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _too_deep(value: dict[Any, Any] | list[Any], depth: int) -> bool:
    """Whether ``value`` (at nesting ``depth``; the body is 1) holds containers nested deeper than
    MAX_DEPTH. The recursion stops at that depth, so it is bounded by it."""
    for item in value.values() if type(value) is dict else value:
        if type(item) in _CONTAINERS and (depth >= MAX_DEPTH or _too_deep(item, depth + 1)):
            return True
    return False
