"""Event ids: time-ordered UUIDs (version 7 layout) for new events, and derived ids (version 8)
for the follow-ups the rig's own rules append.

Marten writes sequential "comb" GUIDs for the same reason: ids that grow with time keep the unique
index on ``mt_events.id`` appending at its right edge instead of touching random pages. They are
not secrets, so the random part comes from ``random`` (one generator per process, seeded from the
OS), which is far cheaper than a system call per id.
"""

from __future__ import annotations

import hashlib
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

def new_event_id() -> uuid.UUID:
    millis = time.time_ns() // 1_000_000
    value = ((millis & _MILLIS) << 80) | (_random.getrandbits(76) & _RANDOM_PART) | _VERSION_AND_VARIANT
    return uuid.UUID(int=value)


# Follow-up events get ids derived from their cause, so the same rule firing twice (two
# processes, a retry) collides on the unique event id and is stored once. They are version-8
# UUIDs (RFC 9562's custom layout: a SHA-256 of the cause in the free bits), a version no client
# may choose (``submission`` refuses it): otherwise a client could compute a follow-up's id and
# post an event under it first, and the rule's own event would then be taken for a retry of it.
FOLLOW_UP_NAMESPACE = uuid.UUID("6d1c1c2e-5b8e-4a55-9a57-7a0f3f0c2e01")
DERIVED_VERSION = 8
_DERIVED_VERSION_AND_VARIANT = (DERIVED_VERSION << 76) | (0b10 << 62)


def derived_event_id(*parts: object) -> uuid.UUID:
    """The id of the follow-up a rule derives from ``parts`` (the cause and the rule's name)."""
    text = "|".join(str(p) for p in parts).encode("utf-8", "surrogateescape")
    digest = int.from_bytes(hashlib.sha256(FOLLOW_UP_NAMESPACE.bytes + text).digest()[:16], "big")
    return uuid.UUID(int=(digest & _RANDOM_PART_128) | _DERIVED_VERSION_AND_VARIANT)


def is_derived(event_id: uuid.UUID) -> bool:
    """Whether ``event_id`` is in the space reserved for follow-ups (version 8)."""
    return event_id.version == DERIVED_VERSION


# Every bit of a 128-bit UUID but the version's 4 and the variant's 2.
_RANDOM_PART_128 = (2**128 - 1) ^ (0xF << 76) ^ (0b11 << 62)
