"""FakeDiscord: REST + gateway on one loopback port, with state tests can assert on."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, TypeVar

from aiohttp import web

from .answers import AnswersMixin
from .faults import FaultInjector, api_middleware
from .gateway import Gateway
from .injection import InjectionMixin
from .interactions import InteractionBuilder
from .models import BOT_PERMISSIONS, EVERYONE_PERMISSIONS, FakeMember, FakeRole, default_members, default_roles
from .payloads import JSON
from .records import Callback, FailedRequest, InjectedInteraction, InteractionRecord, RecordedRequest
from .snowflake import SnowflakeFactory
from .state import GuildState
from .wire import API_PREFIX, FAKE_KEY

T = TypeVar("T")


class FakeDiscord(InjectionMixin, AnswersMixin):
    """A fake Discord for the real discord.py client, on 127.0.0.1 and an ephemeral port.

    Point discord.py at it with ``redirect_discord_py(fake)`` (sets
    ``Route.BASE`` and ``DiscordWebSocket.DEFAULT_GATEWAY`` and restores them).
    """

    def __init__(
        self,
        *,
        guild_id: str | int | None = None,
        guild_name: str = "Conductor-E Test Guild",
        channel_id: str | int | None = None,
        channel_name: str = "issues",
        extra_channels: Iterable[str] = (),
        forum_channels: Mapping[str, Sequence[str]] | None = None,
        bot_user_id: str | int | None = None,
        bot_username: str = "conductor-e",
        application_id: str | int | None = None,
        roles: list[FakeRole] | None = None,
        members: list[FakeMember] | None = None,
        everyone_permissions: int = EVERYONE_PERMISSIONS,
        bot_permissions: int = BOT_PERMISSIONS,
        owner_id: str | int | None = None,
        token: str | None = None,
        heartbeat_interval_ms: int = 41_250,
        dispatch_messages: bool = True,
        host: str = "127.0.0.1",
    ) -> None:
        ids = SnowflakeFactory()
        self.guild_id = str(guild_id or ids.next())
        self.channel_id = str(channel_id or ids.next())
        self.application_id = str(application_id or ids.next())
        # A modern bot's user id equals its application id.
        bot = FakeMember(username=bot_username, id=str(bot_user_id or self.application_id), bot=True)
        channels = [(self.channel_id, channel_name), *((ids.next(), name) for name in extra_channels)]
        # Forum channels by name, each with the names of the tags it already has.
        forums = [(ids.next(), name, list(tags)) for name, tags in (forum_channels or {}).items()]
        self.state = GuildState(
            ids=ids,
            guild_id=self.guild_id,
            guild_name=guild_name,
            # Nobody in the member list owns the guild by default: the owner
            # passes every permission check in discord.py, which would hide bugs.
            owner_id=str(owner_id or ids.next()),
            channels=channels,
            bot=bot,
            bot_permissions=bot_permissions,
            everyone_permissions=everyone_permissions,
            roles=default_roles() if roles is None else roles,
            members=default_members() if members is None else members,
            forum_channels=forums,
        )
        self.token = token  # when set, REST and IDENTIFY must use it
        self.dispatch_messages = dispatch_messages  # MESSAGE_CREATE/UPDATE/DELETE over the gateway
        self.host = host
        self.port = 0

        self.gateway = Gateway(self, heartbeat_interval_ms)
        self.faults = FaultInjector()
        self._builder = InteractionBuilder(self.state, self.application_id)

        self.requests: list[RecordedRequest] = []
        self.callbacks: list[Callback] = []
        self.interactions: dict[str, InteractionRecord] = {}
        self._interactions_by_token: dict[str, InteractionRecord] = {}
        self.global_commands: list[JSON] = []
        self.guild_commands: dict[str, list[JSON]] = {}
        self.unhandled: list[tuple[str, str]] = []  # REST calls with no route in the fake
        self.errors: list[str] = []  # exceptions inside the fake's handlers (bugs)

        # Replaced on every change; waiters hold the current one (see wait_for).
        self._change = asyncio.Event()
        self._holds = 0
        self._pending_change = False
        self._runner: web.AppRunner | None = None

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> FakeDiscord:
        from . import forums, rest, webhooks  # routes import this module's type only

        app = web.Application(middlewares=[api_middleware], client_max_size=64 * 1024 * 1024)
        app[FAKE_KEY] = self
        app.add_routes(rest.routes)
        app.add_routes(webhooks.routes)
        app.add_routes(forums.routes)
        app.router.add_get("/gateway", self.gateway.handle)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self._runner is None:
            return
        await self.gateway.close_all()
        await self._runner.cleanup()
        self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_base(self) -> str:
        return f"{self.base_url}{API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        return f"ws://{self.host}:{self.port}/gateway"

    # -- state views ---------------------------------------------------------------------

    @property
    def bot_user_id(self) -> str:
        return self.state.bot.id  # type: ignore[return-value]

    @property
    def threads(self) -> dict[str, JSON]:
        return self.state.threads

    @property
    def messages(self) -> dict[str, list[JSON]]:
        return self.state.messages

    @property
    def members(self) -> dict[str, FakeMember]:
        return self.state.members

    @property
    def roles(self) -> dict[str, FakeRole]:
        return self.state.roles

    @property
    def failures(self) -> list[FailedRequest]:
        return self.faults.failures

    @property
    def failure_counts(self) -> dict[str, int]:
        return self.faults.failure_counts

    @property
    def identify_count(self) -> int:
        return self.gateway.identify_count

    @property
    def resume_count(self) -> int:
        return self.gateway.resume_count

    def member(self, name_or_id: str) -> FakeMember:
        return self.state.member(name_or_id)

    def role(self, name_or_id: str) -> FakeRole:
        return self.state.role(name_or_id)

    def channel_named(self, name: str) -> str:
        """The id of the guild channel (text or forum) called ``name``."""
        for channel in self.state.channels.values():
            if channel["name"] == name:
                return str(channel["id"])
        raise KeyError(f"no channel {name!r}; channels: {[c['name'] for c in self.state.channels.values()]}")

    def tag_names(self, thread_id: str | int) -> list[str]:
        """The names of the tags applied to a forum post, in the order applied."""
        thread = self.state.threads[str(thread_id)]
        tags = {t["id"]: t["name"] for t in self.state.channels[thread["parent_id"]].get("available_tags", [])}
        return [tags[t] for t in thread["applied_tags"] if t in tags]

    async def set_post_tags(self, thread_id: str | int, names: Sequence[str]) -> None:
        """A member sets a forum post's tags by name, as in Discord's own client (THREAD_UPDATE)."""
        from . import events

        thread = self.state.threads[str(thread_id)]
        tags = {t["name"]: t["id"] for t in self.state.channels[thread["parent_id"]]["available_tags"]}
        self.state.edit_channel(thread, {"applied_tags": [tags[n] for n in names]})
        await events.channel_updated(self, thread)

    def messages_in(self, channel_id: str | int) -> list[JSON]:
        return list(self.state.messages.get(str(channel_id), []))

    def message(self, message_id: str | int) -> JSON | None:
        return self.state.message(str(message_id))

    def thread_by_name(self, name: str, parent_id: str | int | None = None) -> JSON | None:
        """The most recently created thread with this name (optionally under ``parent_id``)."""
        for thread in reversed(list(self.state.threads.values())):
            if thread["name"] == name and (parent_id is None or thread["parent_id"] == str(parent_id)):
                return thread
        return None

    def synced_commands(self, guild_id: str | int | None = None) -> list[JSON]:
        """Commands last synced globally (guild_id None) or to one guild."""
        if guild_id is None:
            return list(self.global_commands)
        return list(self.guild_commands.get(str(guild_id), []))

    def requests_to(self, method: str, path_contains: str = "") -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == method and path_contains in r.path]

    def interaction_by_token(self, token: str) -> InteractionRecord | None:
        return self._interactions_by_token.get(token)

    # -- waiting -----------------------------------------------------------------------------

    def _changed(self) -> None:
        if self._holds:
            self._pending_change = True
            return
        self._change.set()
        self._change = asyncio.Event()

    def _hold_changes(self) -> None:
        """Defer waking waiters while a REST response is still being written."""
        self._holds += 1

    def _release_changes(self) -> None:
        self._holds -= 1
        if self._holds == 0 and self._pending_change:
            self._pending_change = False
            self._changed()

    def _record_request(self, method: str, path: str, body: Any) -> None:
        self.requests.append(RecordedRequest(method, path, body, time.perf_counter()))
        self._changed()

    async def wait_for(self, predicate: Callable[[], T], timeout: float = 5.0, what: str | None = None) -> T:
        """Wait until ``predicate()`` is truthy and return its value.

        The predicate is re-evaluated after every change to the fake's state
        (requests, callbacks, gateway events), so no sleeping or polling.
        """
        try:
            async with asyncio.timeout(timeout):
                while True:
                    change = self._change
                    result = predicate()
                    if result:
                        return result
                    await change.wait()
        except TimeoutError:
            raise TimeoutError(
                f"fake discord: {what or _describe(predicate)} still false after {timeout}s\n{self.describe()}"
            ) from None

    async def wait_ready(self, timeout: float = 5.0) -> None:
        """Until the bot's current socket has IDENTIFYed (READY + GUILD_CREATE sent) or RESUMEd.

        discord.py handles frames in order, so an interaction injected after
        this finds the guild. (on_ready itself comes guild_ready_timeout later.)
        """
        await self.wait_for(lambda: self.gateway.ready, timeout, "gateway READY on the current connection")

    async def wait_callback(self, interaction: InjectedInteraction | str, timeout: float = 5.0) -> Callback:
        """The first callback the bot sent for this interaction."""
        interaction_id = interaction.id if isinstance(interaction, InjectedInteraction) else str(interaction)
        record = self.interactions[interaction_id]
        return await self.wait_for(
            lambda: record.callbacks[0] if record.callbacks else None,
            timeout,
            f"callback for interaction {interaction_id} ({_interaction_name(record)})",
        )

    def describe(self) -> str:
        """A summary of what the fake saw, for failure messages."""
        gw = self.gateway
        lines = [
            f"  gateway: connected={gw.connected} identifies={gw.identify_count} resumes={gw.resume_count} seq={gw.seq}",
            f"  threads: {[t['name'] for t in self.threads.values()]}",
            f"  callbacks: {[(c.interaction_id, c.type) for c in self.callbacks]}",
            "  last requests: " + "; ".join(f"{r.method} {r.path}" for r in self.requests[-8:]),
        ]
        if self.unhandled:
            lines.append(f"  UNHANDLED routes: {self.unhandled}")
        if self.errors:
            lines.append(f"  FAKE ERRORS: {self.errors}")
        return "\n".join(lines)

    # -- faults ------------------------------------------------------------------------------

    def fail_next(
        self,
        n: int = 1,
        status: int = 429,
        retry_after: float = 0.05,
        *,
        match: str | None = None,
        is_global: bool = False,
    ) -> None:
        """Fail the next ``n`` REST requests (those whose "METHOD /path" matches the regex ``match``).

        429 comes with ``Via`` and a JSON ``retry_after`` so discord.py retries;
        other statuses get a plain-text body.
        """
        self.faults.fail_next(n, status, retry_after, match, is_global)

    def set_outage(self, on: bool, status: int = 503, *, gateway: bool = False) -> None:
        """Every REST route answers ``status`` until turned off.

        With ``gateway=True`` new websocket connections are refused too (the
        current one is left alone; use drop_gateway). Note discord.py backs off
        for seconds between gateway reconnect attempts.
        """
        self.faults.outage_status = status if on else None
        self.gateway.refuse_connections = on and gateway
        self._changed()

    async def drop_gateway(self, code: int = 4000, *, refuse_resume: bool = False) -> None:
        """Close the bot's websocket. 4000/1000/1001: the bot RESUMEs and missed events are replayed.

        With ``refuse_resume`` the RESUME gets op 9 (d=false) and the bot IDENTIFYs
        again (its before_identify_hook sleeps 5 s unless overridden).
        """
        self.gateway.refuse_next_resume = refuse_resume
        await self.gateway.drop(code)


def _interaction_name(record: InteractionRecord) -> str:
    data = record.payload.get("data") or {}
    return data.get("name") or data.get("custom_id") or "?"


def _describe(predicate: Callable[[], Any]) -> str:
    try:
        return inspect.getsource(predicate).strip()
    except (OSError, TypeError):
        return repr(predicate)
