"""Repo learnings: what agents found out about a repo (``build-system: Node.js (package.json)``),
the latest value per key with who set it and when. Coordination memory, so event-sourced: each
change is a REPO_LEARNING_RECORDED on the repo's stream (``{repo}#learnings``).

Recording is a serialised decision: a value equal to the current one stores nothing (so a runtime
that reports the same learning on every run leaves its first setter and time in place), and a repo
keeps at most ``MAX_LEARNINGS`` keys (every one of them goes into each agent's prompt).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints, TypeAdapter, ValidationError

from . import events as ev
from .authorization import ANONYMOUS, Caller, Role, check_agent
from .naming import STORED_NAMES
from .projections.repo_learnings import Learning, RepoLearnings
from .store import EventStore, PendingEvent, UnitOfWork
from .submission import InvalidSubmission, invalid_fields

MAX_LEARNINGS = 200
_REPO: TypeAdapter[str] = TypeAdapter(ev.Repo)


class TooManyLearnings(Exception):
    """The repo has MAX_LEARNINGS keys already, and the request adds another."""


class LearningBody(BaseModel):
    """What POST /api/repo-learnings takes: one learning about a repo."""

    model_config = ConfigDict(extra="ignore", alias_generator=STORED_NAMES)
    repo: ev.Repo
    key: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    value: Annotated[str, StringConstraints(max_length=4_000)]
    agent_id: ev.AgentId | None = None


@dataclass(frozen=True)
class Recorded:
    repo: str
    learning: Learning
    changed: bool  # False: the value was already this one, and nothing was stored


def is_repo(text: str) -> bool:
    """Whether ``text`` names a repo as events do (``owner/name``)."""
    try:
        _REPO.validate_python(text)
    except ValidationError:
        return False
    return True


async def record_learning(store: EventStore, body: Any, caller: Caller = ANONYMOUS) -> Recorded:
    """Set ``{repo, key, value, agentId}``. An agent's credential may set learnings only as its
    own agent (the default when the body names none); an operator's, as the body's agent or as
    the operator."""
    if not isinstance(body, dict):
        raise InvalidSubmission("invalid_body", "the body must be a JSON object: {repo, key, value, agentId}")
    try:
        parsed = LearningBody.model_validate(body)
    except ValidationError as exc:
        raise invalid_fields(exc, "repo learning") from None
    if "\x00" in parsed.key or "\x00" in parsed.value:
        raise InvalidSubmission("invalid_text", "key and value must not contain NUL characters")
    check_agent(caller, parsed.agent_id)
    set_by = parsed.agent_id or (caller.name if caller.role is not Role.ANONYMOUS else None)
    event = ev.RepoLearningRecorded(repo=parsed.repo, key=parsed.key, value=parsed.value, set_by=set_by)

    async def decide(uow: UnitOfWork) -> Recorded:
        current = await uow.get(RepoLearnings, parsed.repo)
        existing = current.get(parsed.key) if current is not None else None
        if existing is not None and existing.value == parsed.value:
            return Recorded(parsed.repo, existing, changed=False)
        if existing is None and current is not None and len(current.learnings) >= MAX_LEARNINGS:
            raise TooManyLearnings(f"{parsed.repo} has {MAX_LEARNINGS} learnings, the most a repo keeps; "
                                   "change one of them instead")
        await uow.append(PendingEvent.of(event))
        after = await uow.get(RepoLearnings, parsed.repo)
        learning = after.get(parsed.key) if after is not None else None
        assert learning is not None
        return Recorded(parsed.repo, learning, changed=True)

    recorded, _ = await store.decide(decide)
    return recorded
