"""Answers in camelCase: recorded events and documents as agents read them."""

from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

from pydantic import BaseModel

from eventstore.naming import camel_keys
from eventstore.store import RecordedEvent


@lru_cache(maxsize=256)  # every event of a batch shares its timestamp
def timestamp(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def recorded_event(rec: RecordedEvent) -> dict[str, Any]:
    """The event's fields flattened beside its place in the store (no field collides with these)."""
    return {
        "sequence": rec.seq,
        "streamId": rec.stream_id,
        "version": rec.version,
        "type": rec.wire_name,
        "eventId": str(rec.id),
        "timestamp": timestamp(rec.timestamp),
        **camel_keys(rec.data),
    }


def append_answer(rec: RecordedEvent, duplicate: bool, warnings: tuple[str, ...] = ()) -> dict[str, Any]:
    answer = {
        "streamId": rec.stream_id,
        "type": rec.wire_name,
        "timestamp": timestamp(rec.timestamp),
        "version": rec.version,
        "sequence": rec.seq,
        "eventId": rec.id,  # orjson writes the canonical text itself
        "duplicate": duplicate,
    }
    if warnings:
        answer["warnings"] = list(warnings)
    return answer


def document(doc: BaseModel) -> dict[str, Any]:
    return camel_keys(doc.model_dump(mode="json"))
