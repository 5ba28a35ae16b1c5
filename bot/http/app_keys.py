"""Typed application keys: what the routes may reach, handed in by the composition root."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from aiohttp import web

from eventstore.store import EventStore


@dataclass(frozen=True)
class ApiDeps:
    store: EventStore
    clock: Callable[[], datetime]
    max_body_bytes: int = 256 * 1024


DEPS = web.AppKey("deps", ApiDeps)
