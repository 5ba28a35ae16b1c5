"""The dispatcher: queued work handed to the agents ``DISPATCH_AGENTS`` names as soon as it
appears, so runtimes that wait on their Valkey stream get work without polling.

Woken whenever events commit (LISTEN/NOTIFY, with a slow poll as fallback), it asks two cheap
reads whether one of its agents is idle and the queue holds work (``conductor.dispatch_due``), and
only then runs ``conductor.dispatch``, the serialised decision that appends ISSUE_ASSIGNED (rule
``dispatch``) with the same atomicity as a claim. So an approval, or an agent finishing, is
dispatched within a moment, and traffic that changes nothing costs no lock. The scheduler's tick
runs ``tick`` as well, the backstop for a wake-up that was missed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Protocol

from eventstore.conductor import dispatch, dispatch_due
from eventstore.read_models import ReadModels
from eventstore.store import EventStore, StoreUnavailable

from .supervision import until_stopped

log = logging.getLogger(__name__)

POLL_SECONDS = 30.0  # without a NOTIFY (LISTEN failed): look this often anyway
COALESCE_SECONDS = 0.05  # commits within this of each other are looked at once


class Wakeups(Protocol):
    async def wait(self, timeout: float) -> None: ...


class Dispatcher:
    def __init__(self, store: EventStore, read_models: ReadModels, agents: Sequence[str]) -> None:
        self._store = store
        self._read_models = read_models
        self.agents = tuple(agents)

    async def run(self, wakeups: Wakeups, stop: asyncio.Event,
                  report: Callable[[str, str | None], None] = lambda state, detail: None) -> None:
        """Dispatch on every wake-up until ``stop`` is set. ``report``: ``running``, or ``waiting``
        while the database is unavailable (the next wake-up tries again)."""
        while not stop.is_set():
            try:
                if await dispatch_due(self._read_models, self.agents):
                    await self.dispatch()
                report("running", None)
            except StoreUnavailable as exc:
                report("waiting", f"database unavailable: {exc}"[:300])
            await until_stopped(stop, wakeups.wait(POLL_SECONDS))
            await until_stopped(stop, asyncio.sleep(COALESCE_SECONDS))

    async def tick(self) -> int:
        """The scheduler's backstop: dispatch whenever the queue holds work."""
        if not self.agents or not await self._read_models.queue_head(1):
            return 0
        return await self.dispatch()

    async def dispatch(self) -> int:
        recorded = await dispatch(self._store, self.agents)
        for rec in recorded:
            log.info("dispatched %s to %s", rec.stream_id, getattr(rec.event, "agent_id", "?"))
        return len(recorded)
