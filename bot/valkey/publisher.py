"""Assignments pushed to Valkey: a checkpointed reader of ``mt_events`` that publishes every
ISSUE_ASSIGNED (a claim, a posted one, the dispatcher's) to its agent's stream and signal list.

Driven from the store, like Discord delivery (``bot.discord.notifier``): the reader follows the
global sequence (commit order, see the store), woken by LISTEN/NOTIFY with a 1 s poll as fallback,
and checkpoints in ``mt_event_progression`` (``ValkeyAssignments:All``). One process publishes
(the lease); the others stand by. Valkey failing stops the reader at the event it could not
publish; it retries from there with a capped backoff, so an outage delays assignments and never
loses one. Every publish is idempotent (``streams``): a replay after a crash, or an event published
but not yet checkpointed, adds nothing. An assignment that is no longer current when its turn comes
(the issue was reassigned, finished or closed meanwhile) is skipped: delivered late, it would send
an agent to work that is not its own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from eventstore import events as ev
from eventstore.agents import agent_of
from eventstore.conductor import assignment_current
from eventstore.projections.issue_status import IssueStatus
from eventstore.projections.repo_learnings import RepoLearnings
from eventstore.read_models import ReadModels
from eventstore.store import EventStore, RecordedEvent, StoreError
from eventstore.subscriptions import Checkpoints

from ..supervision import until_stopped

log = logging.getLogger(__name__)

NAME = "ValkeyAssignments"
_ASSIGNED = ev.IssueAssigned.alias


class AssignmentSink(Protocol):
    """Where assignments go (``streams.ValkeyAssignments``)."""

    async def prepare(self, agents: Sequence[str]) -> None: ...

    async def publish(self, agent: str, event_id: str, fields: Mapping[str, str]) -> tuple[str, bool]:
        """(entry id, whether it is new): publishing an event id again adds nothing."""
        ...


class Wakeups(Protocol):
    async def acquire_lease(self) -> bool: ...

    async def wait(self, timeout: float) -> None: ...


# The runtime's optional entry fields, each from the repo learning of that name, in either of the
# spellings agents give keys (``testCommand`` or ``test-command``).
LEARNED_FIELDS = {"stack": ("stack",), "testCommand": ("testCommand", "test-command"),
                  "buildCommand": ("buildCommand", "build-command"), "tools": ("tools",)}


def assignment_fields(issue: IssueStatus, event: ev.IssueAssigned, event_id: str,
                      learnings: RepoLearnings | None = None) -> dict[str, str]:
    """The stream entry the agent runtime reads: ``repo``, ``issueNumber``, ``title``, ``priority``,
    ``stack``, ``testCommand``, ``buildCommand`` and ``tools`` where the repo's learnings know them,
    and ``attempt`` and the event's id (``eventId``) for a consumer that wants to tell entries apart."""
    fields = {"repo": issue.repo, "issueNumber": str(issue.issue_number), "title": issue.title,
              "priority": issue.priority, "attempt": str(event.attempt or issue.attempt), "eventId": event_id}
    for name, keys in LEARNED_FIELDS.items():
        learned = next((found for key in keys if learnings is not None and (found := learnings.get(key))), None)
        if learned is not None:
            fields[name] = learned.value
    return fields


class AssignmentPublisher:
    def __init__(self, store: EventStore, read_models: ReadModels, checkpoints: Checkpoints,
                 sink: AssignmentSink, *, agents: Sequence[str] = (), batch: int = 1000) -> None:
        """``agents``: whose streams get their consumer group at start-up (the dispatcher's)."""
        self._store = store
        self._read_models = read_models
        self._checkpoints = checkpoints
        self._sink = sink
        self._agents = tuple(agents)
        self._batch = batch
        self._cursor: int | None = None  # last sequence handled
        self._saved: int | None = None  # last sequence checkpointed
        self._prepared = False

    async def run(self, wakeups: Wakeups, stop: asyncio.Event,
                  report: Callable[[str, str | None], None] = lambda state, detail: None) -> None:
        """Publish until ``stop`` is set, finishing the publish in hand. ``report(state, detail)``
        is told ``running``, ``standby`` (another process publishes, or the database is
        unreachable) or ``paused`` (Valkey or the database failed; retrying)."""
        backoff = 1.0
        while not stop.is_set():
            try:
                if not await wakeups.acquire_lease():
                    report("standby", "another process publishes, or the database is unreachable")
                    await until_stopped(stop, wakeups.wait(5.0))  # take over if the other one stops
                    continue
                busy = await self.step()
                report("running", None)
                backoff = 1.0
            except Exception as exc:  # Valkey or the database failed: retry from the same event
                log.warning("publishing assignments to Valkey paused (%s: %s); retrying in %.0f s",
                            type(exc).__name__, exc, backoff)
                report("paused", f"{type(exc).__name__}: {exc}"[:300])
                self._cursor, self._prepared = None, False
                await until_stopped(stop, asyncio.sleep(backoff))
                backoff = min(backoff * 2, 30.0)
                continue
            if not busy:
                await until_stopped(stop, wakeups.wait(1.0))

    async def step(self) -> bool:
        """Publish the assignments of one batch of new events; True if there may be more."""
        if not self._prepared:
            await self._sink.prepare(self._agents)
            self._prepared = True
        if self._cursor is None:
            self._cursor = self._saved = await self._checkpoints.load(NAME)
        recs = await self._store.read_all(self._cursor, self._batch)
        try:
            for rec in recs:
                if rec.alias == _ASSIGNED:
                    await self._publish(rec)
                self._cursor = rec.seq
        except Exception:
            # What was published before the failure need not be read again (it would add nothing).
            try:
                await self._checkpoint()
            except StoreError:
                pass
            raise
        await self._checkpoint()
        return len(recs) == self._batch

    async def _checkpoint(self) -> None:
        if self._cursor is not None and self._cursor != self._saved:
            await self._checkpoints.save(NAME, self._cursor)
            self._saved = self._cursor

    async def _publish(self, rec: RecordedEvent) -> None:
        event = rec.event
        if not isinstance(event, ev.IssueAssigned):
            return
        agent = agent_of(event.agent_id)
        issue = await self._read_models.issue(rec.stream_id)
        if issue is None or not assignment_current(issue, event):
            log.info("assignment of %s to %s (event %s) is no longer current: not published", rec.stream_id,
                     agent, rec.seq)
            return
        learnings = await self._read_models.repo_learnings(issue.repo)
        entry, new = await self._sink.publish(agent, str(rec.id),
                                              assignment_fields(issue, event, str(rec.id), learnings))
        if new:
            log.info("assignment of %s published to assignments:%s (entry %s)", rec.stream_id, agent, entry)
