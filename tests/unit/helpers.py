"""Build recorded events without a database, for the pure folds and rules."""

from __future__ import annotations

import itertools
import uuid
from datetime import datetime, timedelta, timezone

from eventstore.events import parse_event
from eventstore.store import RecordedEvent
from eventstore.streams import route

T0 = datetime(2026, 4, 2, 9, 0, tzinfo=timezone.utc)
_seq = itertools.count(1)


def rec(wire_name: str, minutes: float = 0, **fields: object) -> RecordedEvent:
    event = parse_event(wire_name, fields)
    ref = route(event)
    return RecordedEvent(next(_seq), uuid.uuid4(), ref.id, 1, event.alias, T0 + timedelta(minutes=minutes),
                         event.stored_data(), event)


ISSUE = {"repo": "acme/app", "issueNumber": 7}
