"""The Idempotency-Key header names an event id: the same key, the same id, whatever its bytes."""

from __future__ import annotations

import uuid

from eventstore.submission import IDEMPOTENCY_NAMESPACE, parse_submission

BODY = {"type": "TOOL_USED", "agentId": "dev-e-1", "toolName": "Bash"}


def test_a_utf8_key_keeps_the_id_it_always_had() -> None:
    for key in ("abc", "retry-7f3a", "clé-été"):
        assert parse_submission(BODY, key).event_id == uuid.uuid5(IDEMPOTENCY_NAMESPACE, key)


def test_a_key_that_is_not_utf8_works_too() -> None:
    # aiohttp decodes header bytes with surrogateescape: b"ab\xffcd" arrives as "ab\udcffcd"
    odd = b"ab\xffcd".decode("utf-8", "surrogateescape")
    first, again = parse_submission(BODY, odd), parse_submission(BODY, odd)
    assert first.event_id == again.event_id and first.may_exist
    assert first.event_id != parse_submission(BODY, b"ab\xfecd".decode("utf-8", "surrogateescape")).event_id
    assert first.event_id.version == 5
