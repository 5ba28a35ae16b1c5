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


def new_event_id() -> uuid.UUID:
    millis = time.time_ns() // 1_000_000
    rand = _random.getrandbits(74)
    value = (millis & (2**48 - 1)) << 80          # 48-bit Unix milliseconds
    value |= 0x7 << 76                             # version 7
    value |= (rand >> 62) << 64                    # 12 random bits
    value |= 0b10 << 62                            # RFC 4122 variant
    value |= rand & (2**62 - 1)                    # 62 random bits
    return uuid.UUID(int=value)
