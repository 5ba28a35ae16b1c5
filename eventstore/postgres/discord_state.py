"""The Discord side's own tables: status cards and boards (``ce_discord_cards``,
``ce_discord_boards``) and the routes ``/route`` sets (``ce_discord_routes``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from ..live_messages import BoardRecord, CardRecord
from ..routing import Route
from .errors import store_errors


class _Tables:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def _run(self, method: str, sql: str, *args: object) -> Any:
        with store_errors():
            return await getattr(self._pool, method)(sql, *args)


class PostgresLiveMessages(_Tables):
    async def card_for(self, stream_id: str) -> CardRecord | None:
        row = await self._run("fetchrow", "SELECT * FROM ce_discord_cards WHERE stream_id = $1", stream_id)
        return _card(row) if row else None

    async def threads_of(self, stream_ids: Sequence[str]) -> dict[str, tuple[int, int]]:
        rows = await self._run("fetch", "SELECT stream_id, channel_id, thread_id FROM ce_discord_cards "
                                        "WHERE stream_id = ANY($1::varchar[])", list(stream_ids))
        return {r["stream_id"]: (r["channel_id"], r["thread_id"]) for r in rows}

    async def save_card(self, card: CardRecord) -> None:
        await self._run("execute", """
INSERT INTO ce_discord_cards (stream_id, channel_id, thread_id, message_id, content, tags)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (stream_id) DO UPDATE SET channel_id = EXCLUDED.channel_id, thread_id = EXCLUDED.thread_id,
    message_id = EXCLUDED.message_id, content = EXCLUDED.content, tags = EXCLUDED.tags""",
                        card.stream_id, card.channel_id, card.thread_id, card.message_id, card.content,
                        list(card.tags))

    async def forget_card(self, stream_id: str) -> None:
        await self._run("execute", "DELETE FROM ce_discord_cards WHERE stream_id = $1", stream_id)

    async def boards(self) -> dict[int, BoardRecord]:
        rows = await self._run("fetch", "SELECT * FROM ce_discord_boards")
        return {r["channel_id"]: BoardRecord(r["channel_id"], r["thread_id"], r["message_id"], r["content"])
                for r in rows}

    async def save_board(self, board: BoardRecord) -> None:
        await self._run("execute", """
INSERT INTO ce_discord_boards (channel_id, thread_id, message_id, content) VALUES ($1, $2, $3, $4)
ON CONFLICT (channel_id) DO UPDATE SET thread_id = EXCLUDED.thread_id, message_id = EXCLUDED.message_id,
    content = EXCLUDED.content""", board.channel_id, board.thread_id, board.message_id, board.content)

    async def forget_board(self, channel_id: int) -> None:
        await self._run("execute", "DELETE FROM ce_discord_boards WHERE channel_id = $1", channel_id)


def _card(row: asyncpg.Record) -> CardRecord:
    return CardRecord(row["stream_id"], row["channel_id"], row["thread_id"], row["message_id"], row["content"],
                      tuple(row["tags"]))


class PostgresRouteStore(_Tables):
    async def routes(self) -> list[Route]:
        rows = await self._run("fetch", 'SELECT * FROM ce_discord_routes ORDER BY repo COLLATE "C"')
        return [_route(r) for r in rows]

    async def route_for(self, repo: str) -> Route | None:
        row = await self._run("fetchrow", "SELECT * FROM ce_discord_routes WHERE repo = $1", repo)
        return _route(row) if row else None

    async def set_route(self, route: Route) -> None:
        await self._run("execute", """
INSERT INTO ce_discord_routes (repo, channel_id, set_by, set_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (repo) DO UPDATE SET channel_id = EXCLUDED.channel_id, set_by = EXCLUDED.set_by,
    set_at = EXCLUDED.set_at""", route.repo, route.channel_id, route.set_by or "", route.set_at)

    async def remove_route(self, repo: str) -> bool:
        status = await self._run("execute", "DELETE FROM ce_discord_routes WHERE repo = $1", repo)
        return str(status).endswith(" 1")


def _route(row: asyncpg.Record) -> Route:
    return Route(row["repo"], row["channel_id"], row["set_by"], row["set_at"])
