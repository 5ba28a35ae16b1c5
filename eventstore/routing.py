"""Which Discord channel holds a repo's issue threads (or forum posts).

Three layers, the first that names the repo wins: a route set at run time (``/route``, kept by a
``RouteStore``), the repo's entry in ``DISCORD_REPO_CHANNELS``, the default channel
(``DISCORD_CHANNEL_ID``). Routing decides where a *new* thread goes: an issue's existing thread
stays where it is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class Route:
    repo: str
    channel_id: int
    set_by: str | None = None  # None: from DISCORD_REPO_CHANNELS
    set_at: datetime | None = None


class RouteStore(Protocol):
    """Routes set at run time. Read on every question, so every process sees a change at once."""

    async def routes(self) -> list[Route]:
        """Every stored route, by repo."""
        ...

    async def route_for(self, repo: str) -> Route | None: ...

    async def set_route(self, route: Route) -> None:
        """Store ``route`` (replacing the repo's earlier one)."""
        ...

    async def remove_route(self, repo: str) -> bool:
        """Forget the repo's stored route; False if it had none."""
        ...


class Routing:
    def __init__(self, store: RouteStore, configured: Mapping[str, int], default_channel: int) -> None:
        self._store = store
        self._configured = dict(configured)
        self.default_channel = default_channel
        self._watchers: list[Callable[[], None]] = []

    def on_change(self, watcher: Callable[[], None]) -> None:
        """Call ``watcher`` after every change made through this object (the boards follow)."""
        self._watchers.append(watcher)

    async def channel_for(self, repo: str) -> int:
        stored = await self._store.route_for(repo)
        if stored is not None:
            return stored.channel_id
        return self._configured.get(repo, self.default_channel)

    async def routes(self) -> list[Route]:
        """The routes in force, by repo: each stored one, and each configured one it does not replace."""
        found = {repo: Route(repo, channel) for repo, channel in self._configured.items()}
        found.update({r.repo: r for r in await self._store.routes()})
        return [found[repo] for repo in sorted(found)]

    def configured(self, repo: str) -> int | None:
        """The repo's channel in DISCORD_REPO_CHANNELS, if it has one."""
        return self._configured.get(repo)

    async def channels(self) -> list[int]:
        """Every issue channel: the default first, then each routed one once."""
        ordered = [self.default_channel, *(r.channel_id for r in await self.routes())]
        return list(dict.fromkeys(ordered))

    async def set_route(self, route: Route) -> None:
        await self._store.set_route(route)
        self._changed()

    async def remove_route(self, repo: str) -> bool:
        removed = await self._store.remove_route(repo)
        if removed:
            self._changed()
        return removed

    def _changed(self) -> None:
        for watcher in self._watchers:
            watcher()
