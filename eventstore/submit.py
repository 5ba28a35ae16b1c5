"""The SubmitEvent use case: a body an agent (or an operator) sent -> the event appended.

Parsing and checking the body, routing it to a stream and the caller's right to send it are
``submission.parse_submission``; this module adds the one thing that needs the store's state: an
AGENT_STUCK that names no issue concerns the issue its agent holds, and is moved there (so the
two-strikes rule counts it and its thread shows it). That reads the agent's document inside the
serialised write, so the assignment cannot change between the read and the append.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import replace
from typing import Any

from . import events as ev
from .agents import agent_of
from .authorization import ANONYMOUS, Caller
from .projections.agent_status import AgentStatus
from .store import AppendResult, EventStore, PendingEvent, StoreError, UnitOfWork, retry_answer
from .streams import has_real_issue, parse_issue_stream_id, route
from .submission import parse_submission


def submit_event(store: EventStore, body: Any, *, idempotency_key: str | None = None,
                 caller: Caller = ANONYMOUS) -> tuple[Awaitable[AppendResult], tuple[str, ...]]:
    """Append the event ``body`` describes: the append to await, and what submission changed to
    keep the event (warnings for the answer). Raises InvalidSubmission or NotPermitted at once, the
    store's errors when awaited. Not a coroutine: the common case hands back the store's own
    awaitable (``EventStore.append``)."""
    pending = parse_submission(body, idempotency_key, caller)
    if needs_attribution(pending):
        return _append_attributed(store, pending), pending.warnings
    return store.append(pending), pending.warnings


def needs_attribution(pending: PendingEvent) -> bool:
    event = pending.event
    return (type(event) is ev.AgentStuck and pending.expected_version is None  # a final class
            and not has_real_issue(event.repo, event.issue_number))


def attributed(pending: PendingEvent, agent: AgentStatus | None) -> PendingEvent:
    """``pending`` (an AGENT_STUCK naming no issue) on the issue ``agent`` holds, if it holds one."""
    parsed = parse_issue_stream_id(agent.assignment) if agent is not None and agent.assignment else None
    if parsed is None:
        return pending
    assert isinstance(pending.event, ev.AgentStuck)
    moved = pending.event.model_copy(update={"repo": parsed[0], "issue_number": parsed[1]})
    return replace(pending, event=moved, stream=route(moved))


async def _append_attributed(store: EventStore, pending: PendingEvent) -> AppendResult:
    assert isinstance(pending.event, ev.AgentStuck)
    agent_id = agent_of(pending.event.agent_id)

    async def decide(uow: UnitOfWork) -> AppendResult | StoreError | None:
        if pending.may_exist and (found := await uow.stored_event(pending.event_id)) is not None:
            return retry_answer(found[0], pending, found[1])
        await uow.append(attributed(pending, await uow.get(AgentStatus, agent_id)))
        return None

    answer, recorded = await store.decide(decide)
    if isinstance(answer, StoreError):
        raise answer
    return answer if answer is not None else AppendResult(recorded[0], duplicate=False)
