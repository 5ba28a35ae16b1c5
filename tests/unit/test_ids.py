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


def test_made_exactly_as_uuid_init_would_make_it() -> None:
    # new_event_id skips uuid.UUID.__init__ (see eventstore/ids.py): the result must be
    # indistinguishable from the UUID that __init__ makes of the same number.
    import copy
    import pickle
    import uuid

    made = new_event_id()
    twin = uuid.UUID(int=made.int)
    assert type(made) is uuid.UUID
    assert made == twin and hash(made) == hash(twin) and str(made) == str(twin) and repr(made) == repr(twin)
    assert made.bytes == twin.bytes and made.is_safe is twin.is_safe is uuid.SafeUUID.unknown
    assert pickle.loads(pickle.dumps(made)) == made and copy.deepcopy(made) == made
    assert uuid.UUID(str(made)) == made
    try:
        made.int = 0  # type: ignore[misc]
    except TypeError:
        pass
    else:
        raise AssertionError("a UUID must stay immutable")


def test_derived_ids_are_version_8_deterministic_and_apart_from_new_ids() -> None:
    from eventstore.ids import derived_event_id, is_derived

    one = derived_event_id("cause-1", "two-strikes")
    assert one == derived_event_id("cause-1", "two-strikes")
    assert one != derived_event_id("cause-1", "stuck-first-strike") != derived_event_id("cause-2", "two-strikes")
    assert one.version == 8 and one.variant == "specified in RFC 4122" and is_derived(one)
    assert not is_derived(new_event_id())
