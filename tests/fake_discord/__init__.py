"""A fake Discord (REST + gateway on loopback) for running the real discord.py bot in tests.

The protocol facts it is built on are in the team's shared notes (discord-fake.md).
"""

from .answers import Answer
from .client import redirect_discord_py
from .models import (
    ADMIN_MEMBER,
    ADMIN_ROLE,
    ADMINISTRATOR,
    GATE_MEMBER,
    GATE_ROLE,
    MANAGE_GUILD,
    PLAIN_MEMBER,
    FakeMember,
    FakeRole,
)
from .records import Callback, FailedRequest, InjectedInteraction, InteractionRecord, RecordedRequest
from .server import FakeDiscord

__all__ = [
    "ADMINISTRATOR",
    "ADMIN_MEMBER",
    "ADMIN_ROLE",
    "Answer",
    "GATE_MEMBER",
    "GATE_ROLE",
    "MANAGE_GUILD",
    "PLAIN_MEMBER",
    "Callback",
    "FailedRequest",
    "FakeDiscord",
    "FakeMember",
    "FakeRole",
    "InjectedInteraction",
    "InteractionRecord",
    "RecordedRequest",
    "redirect_discord_py",
]
