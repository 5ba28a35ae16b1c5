"""Typed application keys: what the routes may reach, handed in by the composition root."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from aiohttp import web

from eventstore.agent_logs import AgentLogs
from eventstore.merge import Merger
from eventstore.read_models import ReadModels
from eventstore.store import EventStore

from ..credentials import Credentials
from ..health import HealthCheck
from ..metrics import Metrics


@dataclass(frozen=True)
class ApiDeps:
    store: EventStore
    read_models: ReadModels
    clock: Callable[[], datetime]
    max_body_bytes: int = 256 * 1024
    http_timeout: float = 15.0  # seconds for a request's body to arrive
    agent_online: timedelta = timedelta(minutes=3)
    credentials: Credentials = field(default_factory=Credentials)  # none: the open mode
    health: HealthCheck | None = None  # the process's parts, for /health
    merger: Merger | None = None  # None: no GITHUB_TOKEN, POST /api/merge answers 501
    agent_logs: AgentLogs | None = None  # None: /api/agent-logs answers 404
    metrics: Metrics | None = None  # None: nothing is counted, /metrics answers 404


DEPS = web.AppKey("deps", ApiDeps)
