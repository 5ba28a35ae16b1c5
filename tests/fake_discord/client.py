"""Point the real discord.py at a FakeDiscord, and put it back afterwards.

Only two public class attributes change; no function is monkeypatched.
Do not call ``discord.http._set_api_version`` while redirected: it resets
Route.BASE to discord.com.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import discord
import discord.gateway
import discord.http
import yarl

from .server import FakeDiscord


@contextmanager
def redirect_discord_py(fake: FakeDiscord) -> Iterator[FakeDiscord]:
    """Apply before ``bot.start()``/``login()``; the fake must already be started (its port is known)."""
    if not fake.port:
        raise RuntimeError("start the FakeDiscord before redirecting discord.py to it")
    old_base = discord.http.Route.BASE
    old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = fake.api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
    try:
        yield fake
    finally:
        discord.http.Route.BASE = old_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway
