"""What ``GET /health`` reports: the database, and each long-lived part of the process.

200 while appends work, whatever Discord is doing (Discord down shows in the report, it does not
fail the check: agents' appends never depend on it); 503 only when the database does not answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from eventstore.store import EventStore, StoreUnavailable
from eventstore.subscriptions import Lag

from .supervision import Components

PING_TIMEOUT = 1.0  # seconds: a stalled database is "down" well within an agent's 2 s timeout


@dataclass
class HealthCheck:
    store: EventStore
    components: Components
    # How far each checkpointed reader (``delivery`` to Discord, ``valkey``) is behind the store, by component.
    lags: Mapping[str, Callable[[], Awaitable[Lag]]] = field(default_factory=dict)
    parked: Callable[[], list[dict[str, Any]]] = lambda: []  # issues whose Discord delivery waits

    async def report(self) -> tuple[bool, dict[str, Any]]:
        """(database up, the report)."""
        parts = self.components.snapshot()
        try:
            # The store answers at once while its watch finds the database down (Liveness).
            await asyncio.wait_for(self.store.ping(), PING_TIMEOUT)
        except (TimeoutError, StoreUnavailable) as exc:
            parts["database"] = {"state": "down", "detail": _reason(exc)}
            return False, {"status": "unavailable", "database": "down", "components": parts}
        parts["database"] = {"state": "up"}
        for name, lag_of in self.lags.items():
            if name not in parts:
                continue
            try:
                lag = await asyncio.wait_for(lag_of(), PING_TIMEOUT)
            except (TimeoutError, StoreUnavailable):
                continue  # the database answered the ping a moment ago; the lag waits for the next look
            parts[name].update(lagEvents=lag.events, lagSeconds=round(lag.seconds, 3))
        if "delivery" in parts:
            parts["delivery"]["parked"] = self.parked()
        return True, {"status": "ok", "database": "up", "components": parts}


def _reason(exc: BaseException) -> str:
    return f"no answer within {PING_TIMEOUT:.1f} s" if isinstance(exc, asyncio.TimeoutError) else str(exc)[:300]
