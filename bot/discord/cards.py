"""Status cards: each issue thread's first message, edited in place whenever the issue changes.

The notifier ``touch``es an issue's card for every event that can change it (its own coordination
events, and its runs' starts, steps and completions); the card is rendered from the issue's
document when it is written, so it shows the truth of that moment. Debounced per thread: a change
is shown at once when the card was not written in the last ``every`` seconds, else when that
interval ends, together with every change meanwhile, in one edit. A forum post's tags are set in
the same pass.

Cards are written beside the messages, not between them: a due card's write runs as a task of its
own, so a slow edit (or discord.py waiting out a rate limit) delays no thread's messages.

As reliable as the thread's messages: a change not shown yet holds the notifier's checkpoint
(``pending_seq``, a change being written included), so a crash or a restart replays it and the
card is written then; a graceful stop finishes the writes in hand (``drain``). Discord failing
raises at the next flush (the notifier retries from its checkpoint); Discord refusing an edit (a lost
permission, say) is tried again with the notifier's backoff and given up after
``MAX_MESSAGE_ATTEMPTS`` (logged; the next change tries again). A card someone deleted is posted
again; an existing thread without a card (one from before cards) gets one at its next change,
pinned if the bot may.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from eventstore import events as ev
from eventstore.live_messages import CardRecord, LiveMessages
from eventstore.projections.issue_status import IssueStatus
from eventstore.read_models import ReadModels
from eventstore.store import RecordedEvent
from eventstore.streams import issue_stream_id
from eventstore.subscriptions import ThreadLinks

from .ports import MAX_MESSAGE_ATTEMPTS, Gone, MessageRefused, OpenedThread, Poster
from .status_card import render_card, wanted_tags

log = logging.getLogger(__name__)

RUNS_REMEMBERED = 1000  # run id -> issue, so a run's steps do not each read its document


@dataclass
class _Pending:
    seq: int  # the first change the card does not show yet
    due: float  # when it may be written (monotonic)
    since: float
    refusals: int = 0
    reason: str = ""


class CardKeeper:
    def __init__(self, read_models: ReadModels, live: LiveMessages, links: ThreadLinks, poster: Poster, *,
                 every: float = 2.0, monotonic: Callable[[], float] = time.monotonic,
                 retry_first: float = 5.0, retry_cap: float = 600.0) -> None:
        self._reads = read_models
        self._live = live
        self._links = links
        self._poster = poster
        self._every = every
        self._monotonic = monotonic
        self._retry_first, self._retry_cap = retry_first, retry_cap
        self._pending: dict[str, _Pending] = {}  # changes not being written yet
        self._writing: dict[str, tuple[_Pending, asyncio.Task[None]]] = {}
        self._failure: BaseException | None = None  # of a write, raised by the next flush
        self._written: dict[str, float] = {}  # stream -> when its card's last write started
        self._runs: OrderedDict[str, str | None] = OrderedDict()  # run id -> its issue's stream

    # -- what changed ----------------------------------------------------------------------------

    def touch(self, stream_id: str, seq: int) -> None:
        """``seq`` (an event of the issue, or of one of its runs) may change the card."""
        if stream_id in self._pending:
            return  # already waiting: this change is shown with it
        now = self._monotonic()
        last = self._written.get(stream_id)
        due = now if last is None or now - last >= self._every else last + self._every
        self._pending[stream_id] = _Pending(seq, due, now)

    async def touch_run(self, rec: RecordedEvent) -> None:
        """A run's event: its issue's card shows the latest run's status and cost."""
        event = rec.event
        if not isinstance(event, ev.ExecutionEvent) or isinstance(event, ev.ExecutionLogsAppended):
            return  # log lines change neither the status nor the cost
        run_id = event.execution_id
        if isinstance(event, ev.ExecutionStarted):
            stream = issue_stream_id(event.repo, event.issue_number) if event.repo and event.issue_number else None
        elif run_id in self._runs:
            stream = self._runs[run_id]
        else:
            run = await self._reads.execution(run_id)
            stream = issue_stream_id(run.repo, run.issue_number) if run and run.repo and run.issue_number else None
        self._runs[run_id] = stream
        self._runs.move_to_end(run_id)
        while len(self._runs) > RUNS_REMEMBERED:
            self._runs.popitem(last=False)
        if stream is not None:
            self.touch(stream, rec.seq)

    def pending_seq(self) -> int | None:
        """The first event some card does not show yet (the notifier's checkpoint stays before it)."""
        seqs = [p.seq for p in self._pending.values()] + [p.seq for p, _ in self._writing.values()]
        return min(seqs, default=None)

    def next_due(self) -> float | None:
        return min((p.due for p in self._pending.values()), default=None)

    def forget(self) -> None:
        """After a failure the notifier replays from its checkpoint, which touches the cards again
        (the writes in hand finish)."""
        self._pending.clear()
        self._failure = None

    async def drain(self) -> None:
        """Finish the writes in hand (a graceful stop: no card posted and not recorded)."""
        await asyncio.gather(*(task for _, task in self._writing.values()), return_exceptions=True)
        self._collect()

    def refused(self) -> list[dict[str, Any]]:
        """Cards whose edit Discord refused and that wait for their next try, for /health."""
        now = self._monotonic()
        return [{"stream": stream, "reason": f"status card: {p.reason}", "attempts": p.refusals, "events": 0,
                 "waitingSeconds": round(now - p.since, 1), "nextTryInSeconds": round(max(0.0, p.due - now), 1)}
                for stream, p in sorted(self._pending.items()) if p.refusals]

    # -- writing -------------------------------------------------------------------------------------

    async def render(self, stream_id: str) -> tuple[str, list[str], IssueStatus | None]:
        """The card of ``stream_id`` as it is now, the forum tags it wants, and the issue."""
        issue = await self._reads.issue(stream_id)
        run = None
        if issue is not None:
            runs = await self._reads.executions(issue.repo, issue.issue_number, limit=1)
            run = runs.items[0] if runs.items else None
        return render_card(stream_id, issue, run), wanted_tags(issue), issue

    async def opened(self, stream_id: str, opened: OpenedThread) -> None:
        """A thread was made with its card (``opened.card_id``): remember the card. It was rendered
        after every change of the stream handled so far: none of them waits any more."""
        if opened.card_id is None or opened.channel_id is None:
            return
        await self._live.save_card(CardRecord(stream_id, opened.channel_id, opened.thread_id, opened.card_id,
                                              opened.card, opened.tags))
        self._written[stream_id] = self._monotonic()
        self._pending.pop(stream_id, None)

    async def flush(self, *, everything: bool = False) -> None:
        """Start writing the cards that are due (``everything``: all that wait, as at a stop);
        raise what an earlier write failed with."""
        self._collect()
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure
        now = self._monotonic()
        for stream, pending in list(self._pending.items()):
            if (everything or pending.due <= now) and stream not in self._writing:
                del self._pending[stream]
                self._written[stream] = now  # its next change waits an interval from here
                self._writing[stream] = (pending, asyncio.create_task(self._write(stream), name=f"card {stream}"))
        self._written = {s: t for s, t in self._written.items() if now - t < self._every or s in self._writing}

    def _collect(self) -> None:
        """Take in the writes that finished."""
        now = self._monotonic()
        for stream, (pending, task) in list(self._writing.items()):
            if not task.done():
                continue
            del self._writing[stream]
            failure = task.exception() if not task.cancelled() else asyncio.CancelledError()
            if failure is None:
                continue
            later = self._pending.get(stream)  # a change that came while it was written
            if later is not None:
                pending.seq = min(pending.seq, later.seq)
            self._pending[stream] = pending  # not shown: it holds the checkpoint again
            if isinstance(failure, MessageRefused):
                self._refused(stream, failure, now)
            else:
                pending.due = now
                self._failure = self._failure or failure

    def _refused(self, stream_id: str, refused: MessageRefused, now: float) -> None:
        pending = self._pending[stream_id]
        pending.refusals += 1
        pending.reason = str(refused)
        if pending.refusals >= MAX_MESSAGE_ATTEMPTS:
            log.error("Discord refused the status card of %s %d times (%s); left as it is until the next change",
                      stream_id, pending.refusals, refused)
            del self._pending[stream_id]
            return
        wait = min(self._retry_first * 2 ** (pending.refusals - 1), self._retry_cap)
        pending.due = now + wait
        log.warning("Discord refused the status card of %s (attempt %d: %s); retrying in %.0f s",
                    stream_id, pending.refusals, refused, wait)

    async def _write(self, stream_id: str) -> None:
        content, wanted, _ = await self.render(stream_id)
        card = await self._live.card_for(stream_id)
        if card is None:
            card = await self._post_new(stream_id, content)
            if card is None:
                return
        elif card.content != content:
            try:
                await self._poster.edit_message(card.thread_id, card.message_id, content)
            except Gone:  # deleted by someone: post it again (in a forum, the post itself went)
                try:
                    card = replace(card, message_id=await self._poster.post_card(card.thread_id, content))
                except Gone:
                    await self._live.forget_card(stream_id)  # the thread went: a new one comes with a card
                    return
            card = replace(card, content=content)
            await self._live.save_card(card)
        tags = await self._poster.apply_tags(card.channel_id, card.thread_id, wanted)
        if tags is not None and tags != card.tags:
            await self._live.save_card(replace(card, tags=tags))

    async def _post_new(self, stream_id: str, content: str) -> CardRecord | None:
        """A card for a thread that has none (made before cards, or its card was refused)."""
        thread = await self._links.thread_for(stream_id)
        if thread is None:
            return None  # no thread yet: it is made with its card
        channel = await self._poster.parent_of(thread[0])
        if channel is None:
            return None  # the thread went: the next message opens a new one, with a card
        try:
            message_id = await self._poster.post_card(thread[0], content)
        except Gone:
            return None
        card = CardRecord(stream_id, channel, thread[0], message_id, content)
        await self._live.save_card(card)
        return card
