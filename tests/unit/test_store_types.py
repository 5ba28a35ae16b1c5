"""The store's value types: what a PendingEvent makes for itself, and a RecordedEvent's event."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime, timezone

from eventstore.events import parse_event
from eventstore.store import PendingEvent, RecordedEvent
from eventstore.streams import route

EVENT = parse_event("TOOL_USED", {"agentId": "dev-e-1", "repo": "o/r", "issueNumber": 3, "toolName": "Bash"})
AT = datetime(2026, 11, 29, 4, 0, tzinfo=timezone.utc)


def test_pending_defaults_a_fresh_id_and_its_stored_json() -> None:
    pending = PendingEvent(EVENT, route(EVENT))
    assert pending.event_id.version == 7 and pending.expected_version is None and pending.may_exist is False
    assert PendingEvent(EVENT, route(EVENT)).event_id != pending.event_id  # a fresh id each time
    assert pending.data_json == EVENT.stored_json() and pending.data == EVENT.stored_data()
    chosen = uuid.uuid4()
    moved = dataclasses.replace(pending, event_id=chosen, may_exist=True)
    assert (moved.event_id, moved.may_exist, moved.event, moved.data_json) == (chosen, True, EVENT, pending.data_json)


def test_pending_keeps_the_json_submission_gave() -> None:
    given = b'{"AgentId":"dev-e-1","ToolName":"Bash"}'
    assert PendingEvent(EVENT, route(EVENT), data_json=given).data_json == given


def test_a_stored_row_validates_its_event_only_when_asked() -> None:
    row = RecordedEvent(7, uuid.uuid4(), "o/r#3", 2, EVENT.alias, AT, EVENT.stored_data())
    assert row.model is None  # a feed page renders ``data``; the model is not built for it
    assert row.event == EVENT and row.model == EVENT
    assert row == RecordedEvent(7, row.id, "o/r#3", 2, EVENT.alias, AT, EVENT.stored_data(), EVENT)
    assert row.wire_name == "TOOL_USED"


def test_a_row_of_an_unknown_or_unreadable_type_has_no_event() -> None:
    unknown = RecordedEvent(1, uuid.uuid4(), "s", 1, "some_future_type", AT, {"X": 1})
    assert unknown.event is None and unknown.wire_name == "SOME_FUTURE_TYPE"
    unreadable = RecordedEvent(1, uuid.uuid4(), "s", 1, EVENT.alias, AT, {"ToolName": ["not", "text"]})
    assert unreadable.event is None
