"""Starting the whole service (HTTP, store, scheduler, the real discord.py bot) against a fake Discord."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp

from bot.discord.status_card import CARD_MARK
from bot.runtime import Service
from bot.settings import Settings
from tests.fake_discord import GATE_ROLE, FakeDiscord, redirect_discord_py

from ..conftest import TEST_CREDENTIALS, FakeClock


def settings_for(fake: FakeDiscord, **overrides: Any) -> Settings:
    base: dict[str, Any] = dict(
        host="127.0.0.1", port=0, discord_token="test-token", discord_guild_id=int(fake.guild_id),
        discord_channel_id=int(fake.channel_id), discord_gate_role_id=int(fake.role(GATE_ROLE).id or 0),
        discord_api_base_url=fake.api_base, discord_gateway_url=fake.gateway_url,
        discord_tool_fold_seconds=0.3, credentials=TEST_CREDENTIALS,
    )
    return Settings(**(base | overrides))


class Rig:
    """A running service and an HTTP client for it."""

    def __init__(self, service: Service, http: aiohttp.ClientSession) -> None:
        self.service = service
        self.http = http

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.service.port}"

    async def post(self, body: dict[str, Any], headers: dict[str, str] | None = None) -> dict[str, Any]:
        async with self.http.post(f"{self.url}/api/events", json=body, headers=headers) as resp:
            assert resp.status in (200, 201), await resp.text()
            result: dict[str, Any] = await resp.json()
            return result


@asynccontextmanager
async def running_rig(fake: FakeDiscord, dsn: str, clock: FakeClock, **overrides: Any) -> AsyncIterator[Rig]:
    service = Service(settings_for(fake, **overrides), clock=clock, dsn=dsn, discord_ready_timeout=0.1)
    with redirect_discord_py(fake):  # restores discord.py's URLs afterwards
        async with service, aiohttp.ClientSession() as http:
            await fake.wait_ready()
            assert service.bot is not None
            await service.bot.wait_until_ready()
            yield Rig(service, http)
    # Every REST call the bot made had a route in the fake, and the fake itself raised nothing.
    assert fake.unhandled == [] and fake.errors == [], (fake.unhandled, fake.errors)


def thread_messages(fake: FakeDiscord, name_prefix: str) -> list[str]:
    """The lifecycle messages of the thread whose name starts so: not its status card, nor the
    system message that says the card was pinned."""
    threads = [t for t in fake.threads.values() if str(t["name"]).startswith(name_prefix)]
    assert len(threads) <= 1, threads
    return [m["content"] for m in fake.messages_in(threads[0]["id"])
            if m["type"] == 0 and not m["content"].startswith(CARD_MARK)] if threads else []


def card_of(fake: FakeDiscord, name_prefix: str) -> dict[str, Any] | None:
    """The status card of the thread whose name starts so (a forum post's starter message)."""
    threads = [t for t in fake.threads.values() if str(t["name"]).startswith(name_prefix)]
    assert len(threads) <= 1, threads
    cards = [m for m in fake.messages_in(threads[0]["id"]) if m["content"].startswith(CARD_MARK)] if threads else []
    assert len(cards) <= 1, cards
    return cards[0] if cards else None
