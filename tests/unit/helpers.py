"""Build recorded events without a database, for the pure folds and rules."""

from __future__ import annotations

import itertools
import uuid
from datetime import datetime, timedelta, timezone

from eventstore.events import parse_event
from eventstore.naming import pascal_key
from eventstore.store import RecordedEvent
from eventstore.streams import route

T0 = datetime(2026, 4, 2, 9, 0, tzinfo=timezone.utc)
_seq = itertools.count(1)


def rec(wire_name: str, minutes: float = 0, **fields: object) -> RecordedEvent:
    event = parse_event(wire_name, fields)
    ref = route(event)
    return RecordedEvent(next(_seq), uuid.uuid4(), ref.id, 1, event.alias, T0 + timedelta(minutes=minutes),
                         event.stored_data(), event)


def pascal_keys(value: object) -> object:
    """The stored casing by the rule itself, key by key: what the serializer's alias generator
    (naming.STORED_NAMES) must reproduce, nested and inherited fields included."""
    if isinstance(value, dict):
        return {pascal_key(str(k)): pascal_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [pascal_keys(v) for v in value]
    return value


ISSUE = {"repo": "acme/app", "issueNumber": 7}
