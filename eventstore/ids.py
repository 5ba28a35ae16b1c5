"""Event ids: time-ordered UUIDs (version 7 layout).

Marten writes sequential "comb" GUIDs for the same reason: ids that grow with time keep the unique
index on ``mt_events.id`` appending at its right edge instead of touching random pages. They are
not secrets, so the random part comes from ``random`` (one generator per process, seeded from the
OS), which is far cheaper than a system call per id.
"""

from __future__ import annotations

import random
import time
import uuid

_random = random.Random()

# The layout, from the top bit: 48 bits of Unix milliseconds, the version (7) in 4 bits, 12 random
# bits, the RFC 4122 variant (0b10) in 2 bits, 62 random bits. 76 random bits are drawn and the
# 4+2 bits where version and variant go are masked out and set, in one pass.
_RANDOM_PART = ((2**12 - 1) << 64) | (2**62 - 1)
_VERSION_AND_VARIANT = (0x7 << 76) | (0b10 << 62)
_MILLIS = 2**48 - 1

# uuid.UUID's __init__ checks which of its five spellings it was given, range-checks the int and
# sets the version bits: ~7.4k CPU instructions per id on CPython 3.11, half of them needless for
# an int already in range with its version and variant set. So the id is made as __init__ would
# leave it, with both of the class's slots set (``int``, ``is_safe``); tests/unit/test_ids.py pins
# that it equals, hashes and prints like ``uuid.UUID(int=...)``. 3.6k instructions less per id (a
# one-off callgrind count of the construction alone); bench/tools/count_instructions.py fell by 3.4k
# per appended event.
_new_uuid = uuid.UUID.__new__
_set_slot = object.__setattr__
_UNKNOWN_SAFETY = uuid.SafeUUID.unknown


def new_event_id() -> uuid.UUID:
    millis = time.time_ns() // 1_000_000
    value = ((millis & _MILLIS) << 80) | (_random.getrandbits(76) & _RANDOM_PART) | _VERSION_AND_VARIANT
    made = _new_uuid(uuid.UUID)
    _set_slot(made, "int", value)
    _set_slot(made, "is_safe", _UNKNOWN_SAFETY)
    return made
