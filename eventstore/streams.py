"""Stream identity: which stream an event is appended to.

| stream kind | id                          | events                                                    |
|-------------|-----------------------------|-----------------------------------------------------------|
| issue       | ``{repo}#{issueNumber}``    | lifecycle, escalation, gate decisions; AGENT_STUCK naming |
|             |                             | an issue; observability events with a real issue          |
| agent       | ``{agentId}``               | HEARTBEAT, MEMORY_HIT_USED; AGENT_STUCK without an issue; |
|             |                             | observability events without a real issue              |
| milestone   | ``{repo}@milestone:{name}`` | MILESTONE_COMPLETE                                        |
| execution   | ``execution#{id}``          | EXECUTION_* (one run of an agent)                         |
| learnings   | ``{repo}#learnings``        | REPO_LEARNING_RECORDED                                    |
| digest      | ``rig#digest``              | DIGEST_COMPILED (the daily digests)                       |

The last three cannot collide with the others: an agent id holds no ``#``, and what follows the
``#`` of an issue stream is a number (and ``execution`` and ``rig`` hold no ``/``, so they are no repo).

A "real issue" means a non-empty repo and an issue number of at least 1: memory servers send
``Repo: ""`` and ``IssueNumber: 0`` when they do not know the issue, and those events must
never land on a stream called ``#0``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from functools import cache, lru_cache

from .events import (
    DIGEST_STREAM,
    AgentStuck,
    DigestCompiled,
    Event,
    ExecutionEvent,
    IssueEvent,
    MilestoneComplete,
    ObservabilityEvent,
    RepoLearningRecorded,
)

_REPO = re.compile(r"^[^\s#]+/[^\s#]+$")


class StreamKind(str, Enum):
    """Stored in ``mt_streams.type`` as the aggregate alias Marten would write."""

    ISSUE = "issue_status"
    AGENT = "agent_status"
    MILESTONE = "milestone_status"
    EXECUTION = "execution_log"
    LEARNINGS = "repo_learnings"
    DIGEST = "rig_digest"


@dataclass(frozen=True)
class StreamRef:
    id: str
    kind: StreamKind


class Unroutable(ValueError):
    """The event names neither a real issue nor an agent, so it has no stream."""


def issue_stream_id(repo: str, issue_number: int) -> str:
    return f"{repo}#{issue_number}"


def milestone_stream_id(repo: str, milestone: str) -> str:
    return f"{repo}@milestone:{milestone}"


def execution_stream_id(execution_id: str) -> str:
    return f"execution#{execution_id}"


def learnings_stream_id(repo: str) -> str:
    return f"{repo}#learnings"


def parse_issue_stream_id(stream_id: str) -> tuple[str, int] | None:
    repo, sep, number = stream_id.rpartition("#")
    if not sep or not number.isdigit() or not _REPO.match(repo):
        return None
    return repo, int(number)


def has_real_issue(repo: str, issue_number: int) -> bool:
    return issue_number >= 1 and _is_repo(repo or "")


@lru_cache(maxsize=4096)  # a rig works on a handful of repos; routing asks for each event
def _is_repo(repo: str) -> bool:
    return bool(_REPO.match(repo))


@cache  # one entry per event class: routing asks for every event
def _routed_as(cls: type[Event]) -> str:
    if issubclass(cls, IssueEvent):
        return "issue"
    if issubclass(cls, MilestoneComplete):
        return "milestone"
    if issubclass(cls, ExecutionEvent):
        return "execution"
    if issubclass(cls, RepoLearningRecorded):
        return "learnings"
    if issubclass(cls, DigestCompiled):
        return "digest"
    if issubclass(cls, (ObservabilityEvent, AgentStuck)):
        return "issue if real"
    return "agent"


@lru_cache(maxsize=8192)  # a rig's active issues; the same few are named by event after event
def _issue_stream(repo: str, issue_number: int) -> StreamRef:
    return StreamRef(issue_stream_id(repo, issue_number), StreamKind.ISSUE)


def route(event: Event) -> StreamRef:
    how = _routed_as(type(event))
    if how == "issue":
        return _issue_stream(event.repo, event.issue_number)  # type: ignore[attr-defined]
    if how == "milestone":
        return StreamRef(milestone_stream_id(event.repo, event.milestone), StreamKind.MILESTONE)  # type: ignore[attr-defined]
    if how == "execution":
        return StreamRef(execution_stream_id(event.execution_id), StreamKind.EXECUTION)  # type: ignore[attr-defined]
    if how == "learnings":
        return StreamRef(learnings_stream_id(event.repo), StreamKind.LEARNINGS)  # type: ignore[attr-defined]
    if how == "digest":
        return StreamRef(DIGEST_STREAM, StreamKind.DIGEST)
    if how == "issue if real" and has_real_issue(event.repo, event.issue_number):  # type: ignore[attr-defined]
        return _issue_stream(event.repo, event.issue_number)  # type: ignore[attr-defined]
    agent_id = getattr(event, "agent_id", None)
    if agent_id:
        return StreamRef(agent_id, StreamKind.AGENT)
    raise Unroutable(f"{event.wire_name} names neither an issue (repo and issueNumber) nor an agentId")
