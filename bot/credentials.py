"""Bearer tokens: which caller a token speaks for.

``CONDUCTOR_E_AGENT_TOKENS="dev-e-1=<token>,review-e=<token>"`` gives each agent its token (an
agent may have several, to rotate them); ``CONDUCTOR_E_OPERATOR_TOKENS="carol=<token>"`` names the
operators. Tokens are compared in constant time and never appear in a repr, a log line or an
answer.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from eventstore.authorization import ANONYMOUS, Caller, Role

MIN_TOKEN_LENGTH = 16
_NAME = re.compile(r"^[^\s#/=,]{1,200}$")  # an agent id without a pod, or an operator's name


class CredentialsError(ValueError):
    """A token list that cannot be used; the message never holds a token."""


class InvalidCredential(Exception):
    """An Authorization header that is not a known bearer token."""


@dataclass(frozen=True)
class Credentials:
    agents: tuple[tuple[str, bytes], ...] = field(default=(), repr=False)
    operators: tuple[tuple[str, bytes], ...] = field(default=(), repr=False)

    @property
    def agents_required(self) -> bool:
        """Agent tokens are configured: every route but ``GET /health`` needs a valid token."""
        return bool(self.agents)

    def __repr__(self) -> str:
        return f"Credentials({len(self.agents)} agent tokens, {len(self.operators)} operator tokens)"

    @classmethod
    def parse(cls, agents: str = "", operators: str = "") -> Credentials:
        agent_pairs = _pairs(agents, "CONDUCTOR_E_AGENT_TOKENS")
        operator_pairs = _pairs(operators, "CONDUCTOR_E_OPERATOR_TOKENS")
        tokens = [token for _, token in (*agent_pairs, *operator_pairs)]
        if len(set(tokens)) != len(tokens):
            raise CredentialsError("the same token is given twice: every agent and operator needs its own")
        return cls(agents=tuple(agent_pairs), operators=tuple(operator_pairs))

    def caller(self, authorization: str | None) -> Caller:
        """The caller an ``Authorization`` header speaks for: ANONYMOUS without one;
        InvalidCredential for anything but ``Bearer <a known token>``."""
        if authorization is None:
            return ANONYMOUS
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise InvalidCredential("the Authorization header must be 'Bearer <token>'")
        found = self._lookup(token.strip().encode("utf-8", "surrogateescape"))
        if found is None:
            raise InvalidCredential("the bearer token is not valid")
        return found

    def _lookup(self, given: bytes) -> Caller | None:
        # Every configured token is compared, in constant time each, so the time taken does
        # not say how much of a token matched or which one.
        found: Caller | None = None
        for role, pairs in ((Role.AGENT, self.agents), (Role.OPERATOR, self.operators)):
            for name, token in pairs:
                if hmac.compare_digest(given, token):
                    found = Caller(role, name)
        return found


def _pairs(text: str, setting: str) -> list[tuple[str, bytes]]:
    pairs: list[tuple[str, bytes]] = []
    for number, entry in enumerate(_entries(text), start=1):
        name, equals, token = entry.partition("=")
        name, token = name.strip(), token.strip()
        if not equals or not name or not token:
            raise CredentialsError(f"{setting}: entry {number} must be name=token")
        if not _NAME.match(name):
            raise CredentialsError(f"{setting}: entry {number}: the name {name!r} must be 1-200 characters "
                                   "without spaces, '#', '/', '=' or ','")
        if len(token) < MIN_TOKEN_LENGTH or any(c.isspace() for c in token):
            raise CredentialsError(f"{setting}: the token of {name!r} must be at least {MIN_TOKEN_LENGTH} "
                                   "characters without spaces (for example: openssl rand -hex 32)")
        pairs.append((name, token.encode("utf-8", "surrogateescape")))
    return pairs


def _entries(text: str) -> Iterable[str]:
    """Entries separated by commas or new lines (a mounted secrets file), blanks and ``#`` comments skipped."""
    for line in text.splitlines():
        if line.strip().startswith("#"):
            continue
        yield from (entry for entry in line.split(",") if entry.strip())
