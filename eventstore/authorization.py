"""Who may cause which event: the rig's trust rules, pure.

A human gate exists so that no agent can approve its own sensitive change, so the events that
record a human decision (``HumanDecision``: gate approvals and rejections, requeues, closes) are
accepted only from a human: a Discord member the bot has checked, or an operator's credential
over HTTP. Either way the service, never the body, says who decided and through which channel.
An agent's credential speaks for one agent and its pods (``agents.agent_of``).

The edges say who is calling (a ``Caller``); these functions say whether that caller may.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from .agents import agent_of
from .events import Event, HumanDecision


class Role(Enum):
    ANONYMOUS = "anonymous"  # no credential (the API's open mode)
    AGENT = "agent"
    OPERATOR = "operator"


@dataclass(frozen=True)
class Caller:
    role: Role
    name: str = ""  # the agent id (for AGENT) or the operator's name (for OPERATOR)

    @property
    def is_operator(self) -> bool:
        return self.role is Role.OPERATOR


ANONYMOUS = Caller(Role.ANONYMOUS)


@dataclass(frozen=True)
class Decider:
    """The human behind a decision, as the channel it came through knows them."""

    name: str
    via: str  # "discord" or "api"
    id: str  # the Discord user id; the operator's name over the API

    @classmethod
    def operator(cls, name: str) -> Decider:
        return cls(name=name, via="api", id=name)

    def stamp(self) -> dict[str, Any]:
        """The ``HumanDecision`` fields that record this decider."""
        return {"decided_by": self.name, "decided_via": self.via, "decider_id": self.id}


class NotPermitted(Exception):
    """The caller may not do this. ``needs_credential``: no credential was given, and one that
    may (an operator's) would be accepted; otherwise the credential given is the wrong kind."""

    def __init__(self, code: str, message: str, *, needs_credential: bool) -> None:
        super().__init__(message)
        self.code, self.message, self.needs_credential = code, message, needs_credential


DECISIONS_ARE_HUMAN = ("human decisions are made in Discord, or over HTTP with an operator token "
                       "(Authorization: Bearer <operator token>)")


def is_decision(cls: type[Event]) -> bool:
    return issubclass(cls, HumanDecision)


def decider_for(caller: Caller, cls: type[Event]) -> Decider:
    """Who ``caller`` is as the decider of a ``cls`` event sent over the API; NotPermitted unless
    an operator. Holds whether or not agent credentials are configured."""
    if caller.is_operator:
        return Decider.operator(caller.name)
    raise NotPermitted("operator_required", f"{cls.wire_name} records a human decision: {DECISIONS_ARE_HUMAN}",
                       needs_credential=caller.role is Role.ANONYMOUS)


def check_event(caller: Caller, event: Event) -> None:
    """An agent's credential may post only events that name its agent (or a pod of it), or that
    name no agent at all (CI_PASSED, MERGED, ...)."""
    agent_id = getattr(event, "agent_id", None)
    check_agent(caller, agent_id if isinstance(agent_id, str) else None)


def check_agent(caller: Caller, agent_id: str | None) -> None:
    """An agent's credential speaks only for its agent and its pods: NotPermitted (``wrong_agent``)
    when ``agent_id`` (what a body names, or whose record it adds to) is another's. None: the
    body names no agent."""
    if caller.role is Role.AGENT and agent_id is not None and agent_of(agent_id) != caller.name:
        raise NotPermitted("wrong_agent", f"this token speaks for the agent {caller.name!r} and its pods, "
                           f"not for {agent_id!r}", needs_credential=False)


def assignment_agent(caller: Caller, requested: str | None) -> str | None:
    """The agent whose assignment ``caller`` may claim or read: an agent's credential only its own
    (the default when none is named); anyone else whichever they name."""
    if caller.role is not Role.AGENT:
        return requested
    if requested is not None and agent_of(requested) != caller.name:
        raise NotPermitted("wrong_agent", f"this token speaks for the agent {caller.name!r}; it may not claim "
                           f"or read the assignment of {requested!r}", needs_credential=False)
    return requested or caller.name
