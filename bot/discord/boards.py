"""The boards: in each issue channel, one message listing what needs a human now, kept in place.

The notifier ``touch``es the boards for every event that can change what they list (a gate opening
or closing, an escalation, a stuck report, a requeue or close, the heartbeat of an agent listed as
stuck) and whenever the parked deliveries change. A flush renders every channel's board from the
documents; a board whose text changed is written at once if it was not written in the last
``every`` seconds, else when that interval ends (with whatever changed meanwhile), so no channel's
board is edited more often than once per ``every`` seconds, well within Discord's per-channel
rate (about 5 per 5 s); discord.py's own rate limiting paces the calls beyond that.

Boards are derived state: after a failure or a restart they are rendered afresh (and edited, never
posted again: their message ids are kept). An item belongs to the channel its issue's thread is
in (or, without a thread yet, the channel its repo is routed to); an agent stuck on no issue is on
the default channel's board. A board whose message was deleted is posted again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from eventstore import events as ev
from eventstore.agents import agent_of
from eventstore.live_messages import BoardRecord, LiveMessages
from eventstore.read_models import ReadModels
from eventstore.routing import Routing
from eventstore.streams import parse_issue_stream_id

from .board import BOARD_POST_NAME, BoardItems, render_board
from .ports import Gone, MessageRefused, Poster

log = logging.getLogger(__name__)

ESCALATED_LISTED = 100  # the most escalated issues read for the boards (each shows fewer, "… and N more")
# What can change what a board lists (besides an agent's heartbeat, see ``touch_for``).
BOARD_EVENTS = (ev.HumanGateTriggered, ev.HumanGateApproved, ev.HumanGateRejected, ev.Merged, ev.IssueDone,
                ev.Escalated, ev.IssueRequeued, ev.IssueClosed, ev.AgentStuck)


class BoardKeeper:
    def __init__(self, read_models: ReadModels, live: LiveMessages, routing: Routing, poster: Poster,
                 parked: Callable[[], list[dict[str, Any]]], *, every: float = 3.0,
                 monotonic: Callable[[], float] = time.monotonic, retry_first: float = 5.0,
                 retry_cap: float = 600.0) -> None:
        self._reads = read_models
        self._live = live
        self._routing = routing
        self._poster = poster
        self._parked = parked
        self._every = every
        self._monotonic = monotonic
        self._retry_first, self._retry_cap = retry_first, retry_cap
        self._dirty = True  # rendered at start: the boards are made, or brought up to date
        self._waiting: dict[int, str] = {}  # channel -> text not written yet (rate, or a refusal)
        self._not_before: dict[int, float] = {}  # channel -> when its board may be written next
        self._refusals: dict[int, int] = {}
        self._stuck: set[str] = set()  # agents listed as stuck: their heartbeat takes them off

    def touch(self) -> None:
        self._dirty = True

    def touch_for(self, event: ev.Event) -> None:
        """Touch the boards if ``event`` can change what they list."""
        if isinstance(event, BOARD_EVENTS) or (isinstance(event, ev.Heartbeat)
                                               and agent_of(event.agent_id) in self._stuck):
            self._dirty = True

    def next_due(self) -> float | None:
        if self._dirty:
            return self._monotonic()
        return min((self._not_before.get(c, 0.0) for c in self._waiting), default=None)

    def forget(self) -> None:
        self._dirty = True

    async def flush(self) -> None:
        if self._dirty:
            self._dirty = False  # first: a touch during the rendering asks for another
            try:
                rendered = await self._render()
                records = await self._live.boards()
            except BaseException:
                self._dirty = True
                raise
            for channel, content in rendered.items():
                record = records.get(channel)
                if record is None or record.content != content:
                    self._waiting[channel] = content
                else:
                    self._waiting.pop(channel, None)
        now = self._monotonic()
        due = [c for c in self._waiting if self._not_before.get(c, 0.0) <= now]
        if not due:
            return
        records = await self._live.boards()
        for channel in due:  # one channel at a time: boards are few, and each has its own rate
            await self._write(channel, records.get(channel), self._waiting[channel])

    async def _write(self, channel: int, record: BoardRecord | None, content: str) -> None:
        try:
            if record is not None:
                try:
                    await self._poster.edit_message(record.thread_id, record.message_id, content)
                    where, message = record.thread_id, record.message_id
                except Gone:  # deleted by someone: posted again
                    where, message = await self._poster.post_board(channel, content, BOARD_POST_NAME)
            else:
                where, message = await self._poster.post_board(channel, content, BOARD_POST_NAME)
        except MessageRefused as exc:
            refusals = self._refusals[channel] = self._refusals.get(channel, 0) + 1
            wait = min(self._retry_first * 2 ** (refusals - 1), self._retry_cap)
            self._not_before[channel] = self._monotonic() + wait
            log.warning("Discord refused the board of channel %s (attempt %d: %s); retrying in %.0f s",
                        channel, refusals, exc, wait)
            return
        await self._live.save_board(BoardRecord(channel, where, message, content))
        self._waiting.pop(channel, None)
        self._refusals.pop(channel, None)
        self._not_before[channel] = self._monotonic() + self._every

    async def announcement_target(self, channel: int) -> int:
        """Where a post for the whole channel goes (MILESTONE_COMPLETE): a text channel itself; in a
        forum, which holds posts only, the board's post (made now if there is none yet)."""
        if not await self._poster.is_forum(channel):
            return channel
        record = (await self._live.boards()).get(channel)
        if record is None:
            content = (await self._render()).get(channel, "")
            where, message = await self._poster.post_board(channel, content, BOARD_POST_NAME)
            await self._live.save_board(BoardRecord(channel, where, message, content))
            self._not_before[channel] = self._monotonic() + self._every
            return where
        return record.thread_id

    # -- what each board lists ----------------------------------------------------------------

    async def _render(self) -> dict[int, str]:
        channels = await self._routing.channels()
        channels += [c for c in (await self._live.boards()) if c not in channels]  # a channel no longer routed to
        routes = await self._routing.routes()
        gates = await self._reads.open_gates()
        escalated = (await self._reads.issues("failed", limit=ESCALATED_LISTED)).items
        stuck = await self._reads.stuck_agents()
        parked = self._parked()
        self._stuck = {a.id for a in stuck}
        streams = {i.id for i in [*gates, *escalated]} | {a.stuck_on for a in stuck if a.stuck_on}
        streams |= {str(p["stream"]) for p in parked}
        located = await self._locate(streams)
        default = self._routing.default_channel
        items = {channel: BoardItems() for channel in channels}

        def board_of(stream: str | None) -> tuple[BoardItems, int | None]:
            channel, thread = located.get(stream or "", (default, None))
            return items.setdefault(channel, BoardItems()), thread

        for issue in gates:
            board, thread = board_of(issue.id)
            board.gates.append((issue, thread))
        for issue in escalated:
            board, thread = board_of(issue.id)
            board.escalated.append((issue, thread))
        for agent in stuck:
            board, thread = board_of(agent.stuck_on)
            board.stuck.append((agent, thread))
        for entry in parked:
            board, thread = board_of(str(entry["stream"]))
            board.parked.append((entry, thread))
        routed: dict[int, list[str]] = {}
        for route in routes:
            routed.setdefault(route.channel_id, []).append(route.repo)
        # Every issue channel has a board, and so does a channel that holds a listed issue's thread.
        return {channel: render_board(board, _scope(channel, default, routed)) for channel, board in items.items()}

    async def _locate(self, streams: Iterable[str]) -> dict[str, tuple[int, int | None]]:
        """(issue channel, thread or None) of each stream: its card's, else its repo's route."""
        wanted = sorted(streams)
        found: dict[str, tuple[int, int | None]] = dict(await self._live.threads_of(wanted))
        for stream in wanted:
            parsed = parse_issue_stream_id(stream)
            if stream not in found and parsed is not None:
                found[stream] = (await self._routing.channel_for(parsed[0]), None)
        return found


def _scope(channel: int, default: int, routed: dict[int, list[str]]) -> str:
    repos = ", ".join(routed.get(channel, []))
    if channel == default:
        return "every repo" + (f" (and {repos})" if repos else " without a channel of its own")
    return repos or "no repo is routed here now"
