"""The guild's people and roles, as the tests describe them.

Tests refer to roles by *name* (ids are only known once the fake generates
them), so ``FakeMember.roles`` may hold role names or role ids; FakeDiscord
resolves names to ids when it is constructed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Permission bits (https://discord.com/developers/docs/topics/permissions).
ADD_REACTIONS = 1 << 6
ADMINISTRATOR = 1 << 3
MANAGE_CHANNELS = 1 << 4
MANAGE_GUILD = 1 << 5  # "Manage Server"
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
MANAGE_MESSAGES = 1 << 13
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
MENTION_EVERYONE = 1 << 17
USE_EXTERNAL_EMOJIS = 1 << 18
MANAGE_ROLES = 1 << 28
USE_APPLICATION_COMMANDS = 1 << 31
MANAGE_THREADS = 1 << 34
CREATE_PUBLIC_THREADS = 1 << 35
CREATE_PRIVATE_THREADS = 1 << 36
SEND_MESSAGES_IN_THREADS = 1 << 38
PIN_MESSAGES = 1 << 51
# Everything discord.py 2.7 knows about; what an administrator resolves to.
ALL_PERMISSIONS = (1 << 53) - 1

EVERYONE_PERMISSIONS = (
    VIEW_CHANNEL
    | SEND_MESSAGES
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | ADD_REACTIONS
    | USE_EXTERNAL_EMOJIS
    | USE_APPLICATION_COMMANDS
    | CREATE_PUBLIC_THREADS
    | SEND_MESSAGES_IN_THREADS
)
BOT_PERMISSIONS = EVERYONE_PERMISSIONS | MANAGE_MESSAGES | MANAGE_THREADS | CREATE_PRIVATE_THREADS | MENTION_EVERYONE

# Names of the default roles and members, for tests that use the defaults.
GATE_ROLE = "Gatekeeper"
ADMIN_ROLE = "Admin"
BOT_ROLE = "Conductor-E"
GATE_MEMBER = "gatekeeper"
PLAIN_MEMBER = "member"
ADMIN_MEMBER = "admin"


@dataclass
class FakeRole:
    """A guild role. ``permissions`` is an int here and a decimal string on the wire."""

    name: str
    permissions: int = 0
    id: str | None = None  # assigned by FakeDiscord when None
    position: int = 1
    managed: bool = False
    bot_id: str | None = None  # set for a bot's managed role (tags.bot_id)


@dataclass
class FakeMember:
    """A guild member. ``roles`` holds role names or role ids (not @everyone)."""

    username: str
    roles: list[str] = field(default_factory=list)
    id: str | None = None  # assigned by FakeDiscord when None
    global_name: str | None = None
    nick: str | None = None
    bot: bool = False


def default_roles() -> list[FakeRole]:
    """@everyone is added by FakeDiscord itself (its id is the guild id)."""
    return [
        FakeRole(name=GATE_ROLE, permissions=0, position=1),
        FakeRole(name=ADMIN_ROLE, permissions=MANAGE_GUILD, position=2),
    ]


def default_members() -> list[FakeMember]:
    """A gate-role holder, a plain member and an admin with Manage Server."""
    return [
        FakeMember(username=GATE_MEMBER, roles=[GATE_ROLE], global_name="Gate Keeper"),
        FakeMember(username=PLAIN_MEMBER, global_name="Plain Member"),
        FakeMember(username=ADMIN_MEMBER, roles=[ADMIN_ROLE], global_name="Server Admin"),
    ]


def resolve_permissions(everyone: int, role_permissions: list[int]) -> int:
    """Guild-level permissions as Discord computes them (no channel overwrites)."""
    total = everyone
    for value in role_permissions:
        total |= value
    if total & ADMINISTRATOR:
        return ALL_PERMISSIONS
    return total
