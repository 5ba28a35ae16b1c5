"""Long-lived parts that restart themselves, and what each is doing now (for ``/health``).

Each part (the Discord connection, delivery, the scheduler) runs under ``supervise``: after any
error it is started again after a capped, jittered exponential backoff, and its state is kept in
the ``Components`` registry the health route reads. A part that ran a while before failing starts
again from the shortest wait, so one failure a day never waits the cap.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

FIRST_WAIT = 1.0
MAX_WAIT = 30.0
HEALTHY_RUN = 60.0  # seconds of running after which a failure counts as new


@dataclass
class ComponentState:
    state: str  # e.g. running, connected, connecting, down, disabled
    since: float  # time.time() of the change
    detail: str | None = None
    restarts: int = 0

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"state": self.state, "since": round(self.since, 3)}
        if self.detail:
            body["detail"] = self.detail
        if self.restarts:
            body["restarts"] = self.restarts
        return body


class Components:
    """The current state of every long-lived part, by name."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._states: dict[str, ComponentState] = {}

    def set(self, name: str, state: str, detail: str | None = None) -> None:
        current = self._states.get(name)
        if current is not None and current.state == state and current.detail == detail:
            return
        restarts = current.restarts if current is not None else 0
        self._states[name] = ComponentState(state, self._clock(), detail, restarts)

    def restarted(self, name: str) -> None:
        if name in self._states:
            self._states[name].restarts += 1

    def snapshot(self) -> dict[str, dict[str, Any]]:
        return {name: state.as_json() for name, state in sorted(self._states.items())}


async def supervise(name: str, run: Callable[[], Awaitable[None]], components: Components,
                    stop: asyncio.Event, *, reset: Callable[[], Awaitable[None]] | None = None,
                    first_wait: float = FIRST_WAIT, max_wait: float = MAX_WAIT,
                    monotonic: Callable[[], float] = time.monotonic) -> None:
    """Run ``run()`` until ``stop`` is set, starting it again after any error (or an early return).

    ``reset`` runs before each restart, to leave the part as new (for example a client to
    reconnect). Cancelling this task cancels the part."""
    wait = first_wait
    while not stop.is_set():
        started = monotonic()
        try:
            await run()
            if stop.is_set():
                return
            problem = "stopped by itself"
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure: restart, never take the process down
            problem = f"{type(exc).__name__}: {exc}"[:300]
        if monotonic() - started >= HEALTHY_RUN:
            wait = first_wait
        delay = wait * random.uniform(0.8, 1.2)  # jitter: processes sharing a database do not retry in step
        log.warning("%s: %s; restarting in %.1f s", name, problem, delay)
        components.set(name, "down", problem)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
        if stop.is_set():
            return
        wait = min(wait * 2, max_wait)
        components.restarted(name)
        if reset is not None:
            try:
                await reset()
            except Exception as exc:  # noqa: BLE001 - the next run reports what is still wrong
                log.warning("%s: could not reset before restarting: %s", name, exc)


async def until_stopped(stop: asyncio.Event, work: Coroutine[Any, Any, Any]) -> None:
    """Await ``work`` unless ``stop`` is set first (then ``work`` is cancelled)."""
    task = asyncio.ensure_future(work)
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait([task, stopper], return_when=asyncio.FIRST_COMPLETED)
    finally:
        for pending in (task, stopper):
            if not pending.done():
                pending.cancel()
        await asyncio.gather(task, stopper, return_exceptions=True)
