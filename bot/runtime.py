"""The composition root: builds every part, wires them on one event loop, tears them down in reverse.

Nothing here is created at import time. ``Service`` is also what the tests start, so the process
they exercise is the one that ships.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import timedelta

from aiohttp import web

from commands import ALL_COGS
from commands.services import BotServices
from eventstore.postgres.agent_logs import PostgresAgentLogs
from eventstore.postgres.connections import Pool, connector
from eventstore.postgres.discord_state import PostgresLiveMessages, PostgresRouteStore
from eventstore.postgres.liveness import Liveness
from eventstore.postgres.read_models import PostgresReadModels
from eventstore.postgres.schema import VALKEY_LOCK
from eventstore.postgres.stats import PostgresStats
from eventstore.postgres.store import PostgresEventStore
from eventstore.postgres.subscriptions import (
    EventWakeups,
    PostgresCheckpoints,
    PostgresThreadLinks,
)
from eventstore.projections.projector import RigProjector
from eventstore.routing import Routing

from .clock import Clock, DatabaseClock, utc_now
from .database import open_pool, resolve_dsn
from .discord.client import ConductorBot, point_discord_py_at
from .discord.notifier import NAME as NOTIFIER_NAME
from .discord.notifier import DiscordNotifier
from .discord.poster import DiscordPoster
from .dispatcher import Dispatcher
from .github import GitHubMerger
from .health import HealthCheck
from .http.access_log import AccessLog
from .http.app import create_app
from .http.app_keys import ApiDeps
from .logs import quiet_client_mistakes
from .metrics import Metrics
from .scheduler import RigScheduler
from .settings import Settings
from .supervision import Components, supervise
from .valkey.publisher import NAME as PUBLISHER_NAME
from .valkey.publisher import AssignmentPublisher
from .valkey.streams import ValkeyAssignments, safe_url

log = logging.getLogger(__name__)


@dataclass
class Service:
    settings: Settings
    # None: the database's clock, read through ``local_clock`` (DatabaseClock). Tests give their own.
    clock: Clock | None = None
    local_clock: Clock = utc_now
    dsn: str | None = None
    port: int = 0
    store: PostgresEventStore | None = None
    pool: Pool | None = None
    scheduler: RigScheduler | None = None
    bot: ConductorBot | None = None
    notifier: DiscordNotifier | None = None
    dispatcher: Dispatcher | None = None
    publisher: AssignmentPublisher | None = None
    metrics: Metrics = field(default_factory=Metrics)  # this service's own registry (GET /metrics)
    discord_ready_timeout: float = 2.0
    components: Components = field(default_factory=Components)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
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
        self.pool = await open_pool(stack, self.dsn, wait=settings.database_connect_timeout_seconds)
        dsn = self.dsn
        liveness = Liveness(connector(dsn), wall=self.local_clock)
        if self.clock is None:
            database_clock = DatabaseClock(self.local_clock)
            liveness.on_time(database_clock.observe)
            self.clock = database_clock
        await liveness.check()  # the database's time, before anything is stamped with it
        self.store = PostgresEventStore(self.pool, clock=self.clock, projector=RigProjector(), liveness=liveness,
                                        observer=self.metrics)
        await self.store.start()
        stack.push_async_callback(self.store.close)
        stop_watch = asyncio.Event()
        watch = asyncio.create_task(supervise("database watch", lambda: liveness.run(stop_watch),
                                              self.components, stop_watch), name="database-watch")

        async def stop_watching() -> None:
            stop_watch.set()
            await watch

        stack.push_async_callback(stop_watching)

        read_models = PostgresReadModels(self.pool, liveness)
        agent_logs = PostgresAgentLogs(self.pool, liveness)
        checkpoints = PostgresCheckpoints(self.pool)
        lags = {"delivery": lambda: checkpoints.lag(NOTIFIER_NAME)} if settings.discord_enabled else {}
        if settings.valkey_url:
            lags["valkey"] = lambda: checkpoints.lag(PUBLISHER_NAME)
        store = self.store
        self.metrics.watch(queue=lambda: store.queued, pool=self.pool, lags=lags)
        health = HealthCheck(self.store, self.components, lags=lags,
                             parked=lambda: self.notifier.parked() if self.notifier is not None else [])
        merger = None
        if settings.github_token:
            merger = GitHubMerger(settings.github_api_url, settings.github_token.get_secret_value(),
                                  method=settings.github_merge_method)
            stack.push_async_callback(merger.close)
        if settings.dispatch_agents:
            self.dispatcher = Dispatcher(self.store, read_models, settings.dispatch_agents)
        if not settings.discord_enabled:
            self.components.set("discord", "disabled", "no DISCORD_TOKEN")
        app = create_app(ApiDeps(
            store=self.store, read_models=read_models, clock=self.clock,
            max_body_bytes=settings.max_body_bytes, agent_online=timedelta(minutes=settings.agent_online_minutes),
            credentials=settings.credentials, health=health, http_timeout=settings.http_timeout_seconds,
            merger=merger,
            agent_logs=agent_logs, metrics=self.metrics,
        ))
        quiet_client_mistakes()
        access = logging.getLogger("aiohttp.access") if settings.access_log else None
        runner = web.AppRunner(app, access_log=access, access_log_class=AccessLog, handle_signals=False)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)  # runs first on stop: no new requests, then drain
        site = web.TCPSite(runner, settings.host, settings.port, reuse_address=True)
        await site.start()
        self.port = _bound_port(runner) or settings.port
        log.info("HTTP API listening on %s:%s", settings.host, self.port)
        _say_security_mode(settings)

        self.scheduler = RigScheduler(
            self.store, self.clock,
            heartbeat_timeout=timedelta(minutes=settings.heartbeat_timeout_minutes),
            reminder_interval=timedelta(minutes=settings.human_gate_reminder_minutes),
            agent_logs=agent_logs, log_retention=timedelta(days=settings.agent_log_retention_days),
            report=lambda state, detail: self.components.set("scheduler", state, detail),
            dispatch=self.dispatcher.tick if self.dispatcher is not None else None,
            read_models=read_models, digest_at=settings.digest_time,
        )
        self.scheduler.start()
        stack.push_async_callback(self.scheduler.shutdown)
        await self._start_assignments(read_models)

        if settings.discord_enabled:
            await self._start_discord(read_models)
        else:
            log.warning("no DISCORD_TOKEN set: running API-only (no Discord bot)")

    async def _start_assignments(self, read_models: PostgresReadModels) -> None:
        """The dispatcher (``DISPATCH_AGENTS``) and the publisher of assignments to Valkey
        (``VALKEY_URL``): readers woken by the store's NOTIFY, each restarting itself after any error."""
        settings, components = self.settings, self.components
        assert self.store is not None and self.pool is not None and self.dsn is not None
        stop = asyncio.Event()
        tasks: list[asyncio.Task[None]] = []
        wakeups: list[EventWakeups] = []
        sink: ValkeyAssignments | None = None

        def reporter(name: str) -> Callable[[str, str | None], None]:
            return lambda state, detail: components.set(name, state, detail)

        if self.dispatcher is not None:
            dispatcher, woken = self.dispatcher, EventWakeups(connector(self.dsn))
            wakeups.append(woken)
            log.info("dispatching queued work to %s", ", ".join(dispatcher.agents))
            components.set("dispatcher", "starting")
            tasks.append(asyncio.create_task(supervise(
                "dispatcher", lambda: dispatcher.run(woken, stop, reporter("dispatcher")), components, stop,
                reset=woken.close), name="dispatcher"))
        else:
            components.set("dispatcher", "disabled", "no DISPATCH_AGENTS")
        if settings.valkey_url:
            sink = ValkeyAssignments(settings.valkey_url.get_secret_value())
            publisher = self.publisher = AssignmentPublisher(self.store, read_models, PostgresCheckpoints(self.pool),
                                                             sink, agents=settings.dispatch_agents)
            leased = EventWakeups(connector(self.dsn), lease=VALKEY_LOCK)  # one process publishes
            wakeups.append(leased)
            log.info("publishing assignments to Valkey at %s", safe_url(settings.valkey_url.get_secret_value()))
            components.set("valkey", "starting")
            tasks.append(asyncio.create_task(supervise(
                "valkey", lambda: publisher.run(leased, stop, reporter("valkey")), components, stop,
                reset=leased.close), name="valkey-publisher"))
        else:
            components.set("valkey", "disabled", "no VALKEY_URL")

        async def stop_assignments() -> None:
            stop.set()
            if tasks:  # each finishes the publish or the decision in hand (bounded)
                _, late = await asyncio.wait(tasks, timeout=10)
                for task in late:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
            for woken in wakeups:
                await woken.close()
            if sink is not None:
                await sink.close()

        self._stack.push_async_callback(stop_assignments)

    async def _start_discord(self, read_models: PostgresReadModels) -> None:
        settings, stack, components, clock = self.settings, self._stack, self.components, self.clock
        assert self.pool is not None and self.store is not None and settings.discord_channel_id is not None
        assert clock is not None
        assert self.dsn is not None and settings.discord_token is not None
        point_discord_py_at(settings.discord_api_base_url, settings.discord_gateway_url)
        if settings.discord_guild_id is None:
            log.warning("no DISCORD_GUILD_ID: gate decisions in Discord are refused (they count only from "
                        "the configured server)")
        links = PostgresThreadLinks(self.pool)
        routing = Routing(PostgresRouteStore(self.pool), settings.discord_repo_channels, settings.discord_channel_id)
        services = BotServices(
            store=self.store, read_models=read_models, stats=PostgresStats(self.pool), links=links,
            clock=clock, agent_online=timedelta(minutes=settings.agent_online_minutes),
            guild_id=settings.discord_guild_id, gate_role_id=settings.discord_gate_role_id, routing=routing,
        )
        bot = ConductorBot(services, cogs=ALL_COGS, guild_ready_timeout=self.discord_ready_timeout,
                           report=lambda state, detail: components.set("discord", state, detail))
        self.bot = bot
        self.notifier = DiscordNotifier(
            self.store, read_models, PostgresCheckpoints(self.pool), links,
            DiscordPoster(bot, settings.discord_gate_role_id, settings.discord_escalation_role_id,
                          posted=lambda target: self.metrics.discord_posted.labels(target).inc()),
            PostgresLiveMessages(self.pool), routing,
            tool_events=settings.discord_tool_events, fold_seconds=settings.discord_tool_fold_seconds,
            gate_role_id=settings.discord_gate_role_id, retry_first=settings.discord_retry_seconds,
            mention_every=settings.human_gate_reminder_minutes * 60,
            escalation_role_id=settings.discord_escalation_role_id, escalate_after=settings.human_gate_escalate_after,
            card_seconds=settings.discord_card_seconds, board_seconds=settings.discord_board_seconds,
        )
        dsn = self.dsn
        wakeups = EventWakeups(connector(dsn))
        stop = asyncio.Event()
        token = settings.discord_token.get_secret_value()

        async def run_bot() -> None:
            components.set("discord", "connecting", "logging in")
            await bot.start(token)

        async def deliver() -> None:
            assert self.notifier is not None
            await self.notifier.run(wakeups, stop, lambda state, detail: components.set("delivery", state, detail))

        async def close_discord() -> None:
            stop.set()
            bot_task, delivery = self._tasks
            # Let delivery finish the message in hand (bounded), then close the client.
            done, _ = await asyncio.wait([delivery], timeout=10)
            if not done:
                delivery.cancel()
            await bot.close()
            bot_task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await wakeups.close()

        stack.push_async_callback(close_discord)
        # Both restart themselves after any failure (Discord refusing the login, a lost database),
        # with a capped backoff; the HTTP API never depends on either.
        self._tasks = [
            asyncio.create_task(supervise("discord", run_bot, components, stop, reset=bot.reset), name="discord-bot"),
            asyncio.create_task(supervise("delivery", deliver, components, stop, reset=wakeups.close),
                                name="discord-delivery"),
        ]

    async def stop(self) -> None:
        await self._stack.aclose()

    async def __aenter__(self) -> Service:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


def _say_security_mode(settings: Settings) -> None:
    credentials = settings.credentials
    if credentials.agents_required:
        log.info("tokens mode: every route but GET /health needs a bearer token (%d agent, %d operator tokens)",
                 len(credentials.agents), len(credentials.operators))
    else:
        log.warning("no CONDUCTOR_E_AGENT_TOKENS: the API is open to anyone who can reach it (agent events, "
                    "reads and claims need no credential); human decisions still need an operator token")
    if not credentials.operators:
        log.info("no CONDUCTOR_E_OPERATOR_TOKENS: human decisions are taken only in Discord")


def _bound_port(runner: web.AppRunner) -> int | None:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    return None


async def serve_until_stopped(settings: Settings, stop: asyncio.Event) -> None:
    service = Service(settings)
    # A stop asked for while the start still waits (for the database, say) ends the start there.
    starting, stopping = asyncio.create_task(service.start()), asyncio.create_task(stop.wait())
    await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if not starting.done():
        starting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await starting
        log.info("stopped before the start finished")
        return
    stopping.cancel()
    starting.result()  # the start's failure, if it failed
    try:
        await stop.wait()
        log.info("stopping")
    finally:
        await service.stop()
