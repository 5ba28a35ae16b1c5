"""The store's value types set their whole __dict__ in __init__ (see eventstore/store.py); they must
still be complete, frozen, compared (and PendingEvent hashed) by their fields, and work with replace()."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime, timezone

import pytest

from eventstore.events import parse_event
from eventstore.store import AppendResult, PendingEvent, RecordedEvent
from eventstore.streams import route

EVENT = parse_event("TOOL_USED", {"agentId": "dev-e-1", "repo": "o/r", "issueNumber": 3, "toolName": "Bash"})
AT = datetime(2026, 11, 29, 4, 0, tzinfo=timezone.utc)


def _samples() -> list[object]:
    pending = PendingEvent(EVENT, route(EVENT))
    recorded = RecordedEvent(7, pending.event_id, "o/r#3", 2, EVENT.alias, AT, pending.data, EVENT)
    return [pending, recorded, AppendResult(recorded, duplicate=False)]


@pytest.mark.parametrize("value", _samples(), ids=lambda v: type(v).__name__)
def test_every_field_is_set_and_nothing_else(value: object) -> None:
    names = {f.name for f in dataclasses.fields(value)}  # type: ignore[arg-type]
    computed_once = {"data", "data_json"} if isinstance(value, PendingEvent) else set()
    assert set(vars(value)) - computed_once == names


@pytest.mark.parametrize("value", _samples(), ids=lambda v: type(v).__name__)
def test_frozen_equal_and_hashable_by_fields(value: object) -> None:
    first = dataclasses.fields(value)[0].name  # type: ignore[arg-type]
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(value, first, None)
    twin = dataclasses.replace(value)  # type: ignore[type-var]
    assert twin == value and twin is not value
    if isinstance(value, PendingEvent):  # the others hold a dict (the stored body), as they always did
        assert hash(twin) == hash(value)


def test_pending_defaults_and_replace() -> None:
    pending = PendingEvent(EVENT, route(EVENT))
    assert pending.event_id.version == 7 and pending.expected_version is None and pending.may_exist is False
    assert PendingEvent(EVENT, route(EVENT)).event_id != pending.event_id  # a fresh id each time
    chosen = uuid.uuid4()
    moved = dataclasses.replace(pending, event_id=chosen, may_exist=True)
    assert (moved.event_id, moved.may_exist, moved.event) == (chosen, True, EVENT)
    assert moved.data == pending.data and moved.data_json == EVENT.stored_json()


def test_recorded_event_from_json_text_reads_it_only_when_asked() -> None:
    pending = PendingEvent(EVENT, route(EVENT))
    lazy = RecordedEvent(7, pending.event_id, "o/r#3", 2, EVENT.alias, AT, None, EVENT, data_json=pending.data_json)
    assert "data" not in vars(lazy)  # not parsed yet
    eager = RecordedEvent(7, pending.event_id, "o/r#3", 2, EVENT.alias, AT, pending.data, EVENT)
    assert lazy == eager and lazy.data == EVENT.stored_data()
    assert set(vars(lazy)) == {f.name for f in dataclasses.fields(lazy)}  # parsed once, the text let go
    assert dataclasses.replace(lazy, seq=8).data == lazy.data
    with pytest.raises(TypeError):
        RecordedEvent(7, pending.event_id, "o/r#3", 2, EVENT.alias, AT, None, EVENT)
