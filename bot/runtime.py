"""The composition root: builds every part, wires them on one event loop, tears them down in reverse.

Nothing here is created at import time. ``Service`` is also what the tests start, so the process
they exercise is the one that ships.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import timedelta

import asyncpg
from aiohttp import web

from eventstore.postgres.read_models import PostgresReadModels
from eventstore.postgres.store import PostgresEventStore
from eventstore.projections.projector import RigProjector

from .clock import Clock, utc_now
from .database import open_pool, resolve_dsn
from .http.app import create_app
from .http.app_keys import ApiDeps
from .scheduler import RigScheduler
from .settings import Settings

log = logging.getLogger(__name__)


@dataclass
class Service:
    settings: Settings
    clock: Clock = utc_now
    dsn: str | None = None
    port: int = 0
    store: PostgresEventStore | None = None
    pool: asyncpg.Pool | None = None
    scheduler: RigScheduler | None = None
    _stack: AsyncExitStack = field(default_factory=AsyncExitStack)

    async def start(self) -> None:
        try:
            await self._start()
        except BaseException:
            await self._stack.aclose()
            raise

    async def _start(self) -> None:
        settings, stack = self.settings, self._stack
        self.dsn = self.dsn or await resolve_dsn(settings)
        self.pool = await open_pool(stack, self.dsn)
        self.store = PostgresEventStore(self.pool, clock=self.clock, projector=RigProjector())
        await self.store.start()
        stack.push_async_callback(self.store.close)

        read_models = PostgresReadModels(self.pool)
        app = create_app(ApiDeps(
            store=self.store, read_models=read_models, clock=self.clock,
            max_body_bytes=settings.max_body_bytes, agent_online=timedelta(minutes=settings.agent_online_minutes),
        ))
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)  # runs first on stop: no new requests, then drain
        site = web.TCPSite(runner, settings.host, settings.port, reuse_address=True)
        await site.start()
        self.port = _bound_port(runner) or settings.port
        log.info("HTTP API listening on %s:%s", settings.host, self.port)

        self.scheduler = RigScheduler(
            self.store, read_models, self.clock,
            heartbeat_timeout=timedelta(minutes=settings.heartbeat_timeout_minutes),
            reminder_interval=timedelta(minutes=settings.human_gate_reminder_minutes),
        )
        self.scheduler.start()
        stack.callback(self.scheduler.shutdown)

        if not settings.discord_enabled:
            log.warning("no DISCORD_TOKEN set: running API-only (no Discord bot)")

    async def stop(self) -> None:
        await self._stack.aclose()

    async def __aenter__(self) -> Service:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


def _bound_port(runner: web.AppRunner) -> int | None:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    return None


async def serve_until_stopped(settings: Settings, stop: asyncio.Event) -> None:
    async with Service(settings):
        await stop.wait()
        log.info("stopping")
