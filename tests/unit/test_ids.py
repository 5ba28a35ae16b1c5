"""Event ids: UUID version 7, unique, ordered by time."""

from __future__ import annotations

import time

from eventstore.ids import new_event_id


def test_version_7_unique_and_time_ordered() -> None:
    first = [new_event_id() for _ in range(50_000)]
    assert len(set(first)) == len(first)
    assert all(i.version == 7 and i.variant == "specified in RFC 4122" for i in first[:100])
    time.sleep(0.002)  # not synchronisation: the next ids must come from a later millisecond
    later = new_event_id()
    assert later.int >> 80 > first[0].int >> 80
    assert abs((later.int >> 80) - time.time_ns() // 1_000_000) < 1000


def test_derived_ids_are_version_8_deterministic_and_apart_from_new_ids() -> None:
    from eventstore.ids import derived_event_id, is_derived

    one = derived_event_id("cause-1", "two-strikes")
    assert one == derived_event_id("cause-1", "two-strikes")
    assert one != derived_event_id("cause-1", "stuck-first-strike") != derived_event_id("cause-2", "two-strikes")
    assert one.version == 8 and one.variant == "specified in RFC 4122" and is_derived(one)
    assert not is_derived(new_event_id())
