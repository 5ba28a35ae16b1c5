"""Execution logs: the runs the agent runtime reports around each assignment, as use cases.

A run is started (a fresh id, answered to the runtime), then gets steps, log lines and one
completion, each an event on the run's stream (``execution#{id}``), folded into its ExecutionLog.
Steps, lines and the completion are serialised decisions (``EventStore.decide``): the run must
exist, its agent (or an operator, or anyone in the open mode) must be the caller, and the bounds
below hold however many posts arrive at once.

Bounds per run: ``MAX_STEPS`` steps; ``MAX_LOG_LINES`` log lines kept in the events (the document
shows the latest ``execution_log.KEPT_LOG_LINES``): lines past it are dropped and the answer says
how many, so a runaway run cannot grow the log without limit. A second completion with the same
status and totals is a retry (answered again, nothing stored); a different one is refused.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from . import events as ev
from .authorization import ANONYMOUS, Caller, check_agent
from .diagnostic_text import storable
from .ids import new_event_id
from .naming import STORED_NAMES, spellings
from .projections import execution_log
from .projections.execution_log import COMPLETION_FIELDS, ExecutionLog
from .store import EventStore, PendingEvent, UnitOfWork
from .submission import InvalidSubmission, Problem, invalid_fields

MAX_STEPS = 200
MAX_LOG_LINES = 10_000


class UnknownExecution(LookupError):
    """No run has this id (or the id is not one)."""


class ExecutionConflict(Exception):
    """The run's state refuses the request: ``code`` is ``already_completed``,
    ``step_limit_reached`` or ``log_limit_reached``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass(frozen=True)
class Outcome:
    """A run after a request, and what the request changed."""

    run: ExecutionLog
    warnings: tuple[str, ...] = ()
    duplicate: bool = False  # a repeated completion: nothing was stored
    accepted: int = 0  # log lines stored
    dropped: int = 0  # log lines past MAX_LOG_LINES


def execution_id(raw: str) -> str:
    """The canonical form of a run's id (a UUID); UnknownExecution for anything that is not one."""
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        raise UnknownExecution(raw) from None


async def start_execution(store: EventStore, body: Any, caller: Caller = ANONYMOUS) -> Outcome:
    """A new run for ``{agentId, repo, issueNumber, status, model, steps}``: its document."""
    fields, warnings = _object(body, "the body must be a JSON object (the run)")
    new_id = str(new_event_id())  # time-ordered, like the runs it names
    started = _parse(ev.ExecutionStarted, _with_id(fields, new_id), "execution")
    if len(started.steps) > MAX_STEPS:
        raise InvalidSubmission("invalid_fields", f"a run has at most {MAX_STEPS} steps",
                                [Problem("steps", f"at most {MAX_STEPS}")])
    check_agent(caller, started.agent_id)
    result = await store.append(PendingEvent.of(started))
    run = execution_log.evolve(None, result.recorded)
    assert run is not None
    return Outcome(run, warnings)


async def record_step(store: EventStore, run_id: str, body: Any, caller: Caller = ANONYMOUS) -> Outcome:
    """Add ``{type, status, detail, costUsd, turns}`` to the run's steps."""
    fields, warnings = _object(body, "the body must be a JSON object (the step)")
    step = _parse(ev.ExecutionStep, fields, "step")

    async def decide(uow: UnitOfWork) -> Outcome:
        run = await _run(uow, run_id, caller)
        if len(run.steps) >= MAX_STEPS:
            raise ExecutionConflict("step_limit_reached", f"the run {run_id} has {MAX_STEPS} steps, the most a run keeps")
        await uow.append(PendingEvent.of(ev.ExecutionStepRecorded(execution_id=run_id, step=step)))
        return Outcome(await _current(uow, run_id), warnings)

    outcome, _ = await store.decide(decide)
    return outcome


class _Lines(BaseModel):
    model_config = ConfigDict(alias_generator=STORED_NAMES)
    lines: list[ev.LogLine] = Field(max_length=MAX_LOG_LINES)


async def append_logs(store: EventStore, run_id: str, body: Any, caller: Caller = ANONYMOUS) -> Outcome:
    """Add a JSON array of ``{timestamp, level, message}`` to the run's log."""
    cleaned, warnings = storable(body)
    if not isinstance(cleaned, list):
        raise InvalidSubmission("invalid_body", "the body must be a JSON array of log lines "
                                "({timestamp, level, message})")
    try:
        lines = _Lines.model_validate({"lines": cleaned}).lines
    except ValidationError as exc:
        raise invalid_fields(exc, "log lines") from None

    async def decide(uow: UnitOfWork) -> Outcome:
        run = await _run(uow, run_id, caller)
        room = MAX_LOG_LINES - run.log_lines
        if lines and room <= 0:
            raise ExecutionConflict("log_limit_reached", f"the run {run_id} has {MAX_LOG_LINES} log lines, the most "
                                    "a run keeps; nothing more is stored")
        kept = lines[:room]
        if kept:
            await uow.append(PendingEvent.of(ev.ExecutionLogsAppended(execution_id=run_id, lines=kept)))
        return Outcome(await _current(uow, run_id), warnings, accepted=len(kept), dropped=len(lines) - len(kept))

    outcome, _ = await store.decide(decide)
    return outcome


async def complete_execution(store: EventStore, run_id: str, body: Any, caller: Caller = ANONYMOUS) -> Outcome:
    """Complete the run with ``{status, totalCostUsd, totalTurns, …, prNumber}`` (or just a status)."""
    fields, warnings = _object(body, "the body must be a JSON object (the completion)")
    completed = _parse(ev.ExecutionCompleted, _with_id(fields, run_id), "completion")
    asked = {name: getattr(completed, name) for name in COMPLETION_FIELDS}

    async def decide(uow: UnitOfWork) -> Outcome:
        run = await _run(uow, run_id, caller)
        if run.completed:
            if run.completion() == asked:  # a retry of the same completion
                return Outcome(run, warnings, duplicate=True)
            raise ExecutionConflict("already_completed", f"the run {run_id} was completed already "
                                    f"(status {run.status!r}) with other totals")
        await uow.append(PendingEvent.of(completed))
        return Outcome(await _current(uow, run_id), warnings)

    outcome, _ = await store.decide(decide)
    return outcome


async def _run(uow: UnitOfWork, run_id: str, caller: Caller) -> ExecutionLog:
    run = await uow.get(ExecutionLog, run_id)
    if run is None:
        raise UnknownExecution(run_id)
    check_agent(caller, run.agent_id)  # an agent adds only to its own runs
    return run


async def _current(uow: UnitOfWork, run_id: str) -> ExecutionLog:
    run = await uow.get(ExecutionLog, run_id)  # as the append just projected it
    assert run is not None
    return run


def _object(body: Any, what: str) -> tuple[dict[str, Any], tuple[str, ...]]:
    cleaned, warnings = storable(body)
    if not isinstance(cleaned, dict):
        raise InvalidSubmission("invalid_body", what)
    return cleaned, warnings


def _with_id(fields: dict[str, Any], run_id: str) -> dict[str, Any]:
    """``fields`` naming the run ``run_id``, whatever execution id they spelled themselves."""
    names = spellings("execution_id")
    return {**{k: v for k, v in fields.items() if k not in names}, names[0]: run_id}


def _parse(model: type[BaseModel], fields: dict[str, Any], what: str) -> Any:
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        raise invalid_fields(exc, what) from None
