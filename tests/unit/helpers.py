"""Build recorded events without a database, for the pure folds and rules; settings from a given environment."""

from __future__ import annotations

import itertools
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from bot.settings import SECRETS, Settings
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


def from_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> Settings:
    """``Settings.from_env()`` with exactly ``env`` among the variables it reads."""
    for field in Settings.model_fields.values():
        if isinstance(field.validation_alias, str):
            monkeypatch.delenv(field.validation_alias, raising=False)
    for name in SECRETS:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(f"{name}_FILE", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings.from_env()
