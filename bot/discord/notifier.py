"""Discord delivery: a checkpointed reader of ``mt_events`` that posts into issue threads.

Driven from the store, never from the HTTP request: appends never wait for Discord. The reader
follows the global sequence (commit order equals sequence order, see the store) in batches; within
a batch each stream's events go out in order while different threads are posted concurrently.

Exactly-once, as far as Discord allows: after posting an event into a thread the reader records
the thread's ``last_seq``; a replay (after a crash or an error) skips what a thread already has.
A crash exactly between Discord accepting a message and that record can repeat that one message
in that one thread -- the bound. The global checkpoint (``DiscordNotifier:All`` in
``mt_event_progression``) only saves re-reading.

Discord failing (429 beyond discord.py's own retries, 5xx, unreachable) stops the reader at the
failing event; it retries with backoff from there, so nothing is lost or reordered. Discord
refusing one issue's message or thread (``MessageRefused``: a 4xx other than 404 and 429, from
AutoMod, the guild's active-thread limit, a lost permission) parks that issue alone: its events
wait, in order, and are tried again with backoff (``retry_first`` doubling to ``retry_cap``) while
every other issue keeps flowing; the global checkpoint stays before the parked events, so a
restart tries them again too. A message refused ``MAX_MESSAGE_ATTEMPTS`` times is skipped (logged
as an error; the event stays in the store) so one unpostable message cannot hold its issue for
ever; a thread that cannot be created is tried again for as long as it takes.

Each issue's status card (``cards``) and each issue channel's board (``boards``) are kept in
place by the same reader: events touch them, and each pass starts the writes that are due. A
new thread goes to the channel its repo is routed to (``eventstore.routing``), its card first.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from eventstore import events as ev
from eventstore.conductor import reminder_escalates
from eventstore.live_messages import LiveMessages
from eventstore.read_models import ReadModels
from eventstore.routing import Routing
from eventstore.store import EventStore, RecordedEvent
from eventstore.streams import parse_issue_stream_id
from eventstore.streams import route as event_route
from eventstore.subscriptions import Checkpoints, ThreadLinks

from ..log_context import STREAM
from ..supervision import until_stopped
from .boards import BoardKeeper
from .cards import CardKeeper
from .ports import MAX_MESSAGE_ATTEMPTS, MessageRefused, NewThread, Poster
from .rendering import Post, render, render_tools, thread_name

log = logging.getLogger(__name__)

NAME = "DiscordNotifier"


class _Refused(Exception):
    """Discord refused what one issue needed: the issue is parked (see the module's docstring)."""

    def __init__(self, reason: str, *, thread: bool) -> None:
        super().__init__(reason)
        self.thread = thread  # the thread could not be opened (else: one message was refused)
        self.recs: list[RecordedEvent] = []  # folded tool calls the refused message held


@dataclass
class _Parked:
    """An issue whose delivery waits: its events in order, and when to try again."""

    recs: list[RecordedEvent]
    reason: str
    since: float
    next_try: float
    attempts: int = 1  # tries so far, for the backoff
    message_refusals: int = 0  # refusals of the message at the head (a thread refusal counts none)


class Wakeups(Protocol):
    async def acquire_lease(self) -> bool: ...

    async def wait(self, timeout: float) -> None: ...


@dataclass
class _Fold:
    recs: list[RecordedEvent] = field(default_factory=list)
    started: float = 0.0


class DiscordNotifier:
    def __init__(self, store: EventStore, read_models: ReadModels, checkpoints: Checkpoints,
                 links: ThreadLinks, poster: Poster, live: LiveMessages, routing: Routing, *, tool_events: bool,
                 fold_seconds: float = 5.0, gate_role_id: int | None = None, batch: int = 200,
                 monotonic: Callable[[], float] = time.monotonic,
                 retry_first: float = 5.0, retry_cap: float = 600.0, mention_every: float = 0.0,
                 escalation_role_id: int | None = None, escalate_after: int = 4,
                 card_seconds: float = 2.0, board_seconds: float = 3.0) -> None:
        self._routing = routing
        self.cards = CardKeeper(read_models, live, links, poster, every=card_seconds, monotonic=monotonic,
                                retry_first=retry_first, retry_cap=retry_cap)
        self.boards = BoardKeeper(read_models, live, routing, poster, self.parked, every=board_seconds,
                                  monotonic=monotonic, retry_first=retry_first, retry_cap=retry_cap)
        routing.on_change(self.boards.touch)  # a channel routed to gets its board
        self._store = store
        self._read_models = read_models
        self._checkpoints = checkpoints
        self._links = links
        self._poster = poster
        self._tool_events = tool_events
        self._fold_seconds = fold_seconds
        self._role = f"<@&{gate_role_id}>" if gate_role_id else None
        # The gate role is mentioned at most once per gate per reminder interval (``mention_every``
        # seconds, by delivery time): reminders that were held up and arrive together ping once.
        self._mention_every = mention_every
        self._last_mention: dict[str, float] = {}
        # The gate ladder: reminders after ``escalate_after`` of them also mention the escalation
        # role, at most once per gate per interval as well (its own count, so that a gate-role
        # ping held back does not hold back the first escalation).
        self._escalation = f"<@&{escalation_role_id}>" if escalation_role_id else None
        self._escalate_after = escalate_after
        self._last_escalation: dict[str, float] = {}
        self._batch = batch
        self._monotonic = monotonic
        self._cursor: int | None = None  # last sequence read and handled (or folded)
        self._threads: dict[str, tuple[int, int]] = {}  # stream -> (thread id, last posted seq)
        self._folds: dict[str, _Fold] = {}
        self._parked: dict[str, _Parked] = {}
        self._retry_first, self._retry_cap = retry_first, retry_cap
        self._stop = asyncio.Event()  # replaced by run()'s

    # -- the loop ---------------------------------------------------------------------------------

    async def run(self, wakeups: Wakeups, stop: asyncio.Event,
                  report: Callable[[str, str | None], None] = lambda state, detail: None) -> None:
        """Deliver until ``stop`` is set; then finish the event in hand and return, so a graceful
        shutdown never leaves a message posted but unrecorded. ``report(state, detail)`` is told
        what delivery is doing: ``waiting`` (for Discord), ``running``, ``standby`` (another
        process holds the lease, or the database is unreachable) or ``paused`` (retrying)."""
        self._stop = stop
        report("waiting", "for the Discord connection")
        await until_stopped(stop, self._poster.ready())
        backoff = 1.0
        while not stop.is_set():
            try:
                if not await wakeups.acquire_lease():
                    report("standby", "another process delivers, or the database is unreachable")
                    await until_stopped(stop, wakeups.wait(5.0))  # take over if the other one stops
                    continue
                busy = await self.step()
                report("running", None)
                backoff = 1.0
            except Exception as exc:  # Discord or the database failed: retry from the same event
                log.warning("Discord delivery paused (%s); retrying in %.0f s", exc, backoff)
                report("paused", f"{type(exc).__name__}: {exc}"[:300])
                self._forget_progress()
                await until_stopped(stop, asyncio.sleep(backoff))
                backoff = min(backoff * 2, 30.0)
                continue
            if not busy:
                await until_stopped(stop, wakeups.wait(self._next_wait()))
        await self._finish_cards()

    async def _finish_cards(self) -> None:
        """At a graceful stop, the cards waiting for their interval are written now and the
        checkpoint moves past them, so a restart has nothing to replay for them."""
        if self.cards.pending_seq() is None:
            return
        try:
            await self.cards.flush(everything=True)
            await self.cards.drain()
            if self._cursor is not None:
                await self._checkpoints.save(NAME, self._safe_checkpoint())
        except Exception as exc:  # noqa: BLE001 - Discord or the database failing now: the restart replays them
            log.warning("status cards not written at stop (%s); they are written after the next start", exc)

    async def step(self) -> bool:
        """Handle one batch of new events and flush due folds; True if there may be more."""
        if self._cursor is None:
            self._cursor = await self._checkpoints.load(NAME)
        recs = await self._store.read_all(self._cursor, self._batch)
        # Threads are independent (and Discord rate-limits each on its own): deliver the batch's
        # streams concurrently, each stream's events in order. A slow or rate-limited thread then
        # holds up only its own messages (until the batch ends), not every other thread's.
        by_stream: dict[str, list[RecordedEvent]] = {}
        for rec in recs:
            by_stream.setdefault(rec.stream_id, []).append(rec)
        outcomes = await asyncio.gather(*(self._handle_stream(g) for g in by_stream.values()),
                                        return_exceptions=True)  # no cancelling a post half-done
        failures = [o for o in outcomes if isinstance(o, BaseException)]
        if failures:
            raise failures[0]
        if recs and all(outcomes):
            self._cursor = recs[-1].seq
        await self._flush_folds()
        await self._retry_parked()
        await self.cards.flush()
        await self.boards.flush()
        await self._checkpoints.save(NAME, self._safe_checkpoint())
        return len(recs) == self._batch and not self._stop.is_set()

    def parked(self) -> list[dict[str, Any]]:
        """The issues whose delivery waits, for /health."""
        now = self._monotonic()
        issues = [{"stream": stream, "reason": p.reason, "attempts": p.attempts, "events": len(p.recs),
                   "waitingSeconds": round(now - p.since, 1), "nextTryInSeconds": round(max(0.0, p.next_try - now), 1)}
                  for stream, p in sorted(self._parked.items())]
        return issues + self.cards.refused()

    def _forget_progress(self) -> None:
        # Re-read from the checkpoint: the per-thread records make the replay skip what was posted.
        self._cursor = None
        self._threads.clear()
        self._folds.clear()
        self._parked.clear()
        self.cards.forget()
        self.boards.forget()

    def _safe_checkpoint(self) -> int:
        assert self._cursor is not None
        pending = [f.recs[0].seq for f in self._folds.values() if f.recs]
        pending += [p.recs[0].seq for p in self._parked.values() if p.recs]
        card = self.cards.pending_seq()
        if card is not None:
            pending.append(card)
        return min(self._cursor, min(pending) - 1) if pending else self._cursor

    def _next_wait(self) -> float:
        wakes = [f.started + self._fold_seconds for f in self._folds.values()]
        wakes += [p.next_try for p in self._parked.values()]
        wakes += [t for t in (self.cards.next_due(), self.boards.next_due()) if t is not None]
        if not wakes:
            return 1.0  # poll fallback when no NOTIFY arrives
        return max(0.05, min(1.0, min(wakes) - self._monotonic()))

    # -- parked issues ----------------------------------------------------------------------------

    def _park(self, stream_id: str, recs: list[RecordedEvent], refused: _Refused, *, replace: bool = False) -> None:
        """Hold ``recs`` of ``stream_id`` until its next try. ``replace``: they are what is left of
        the parked events (a retry); otherwise they join any already parked, in sequence order."""
        now = self._monotonic()
        parked = self._parked.get(stream_id)
        refusal = 0 if refused.thread else 1
        if parked is None:
            self._parked[stream_id] = _Parked(recs, str(refused), now, now + self._retry_first,
                                              message_refusals=refusal)
            self.boards.touch()  # the board lists parked deliveries
            log.warning("Discord refused %s for %s (%s); its delivery waits, retrying in %.0f s; other issues go on",
                        "the thread" if refused.thread else "a message", stream_id, refused, self._retry_first)
            return
        parked.recs = recs if replace else sorted({r.seq: r for r in [*parked.recs, *recs]}.values(),
                                                  key=lambda r: r.seq)
        parked.reason = str(refused)
        parked.attempts += 1
        parked.message_refusals = parked.message_refusals + 1 if refusal else 0
        wait = min(self._retry_first * 2 ** (parked.attempts - 1), self._retry_cap)
        parked.next_try = now + wait
        self.boards.touch()
        log.warning("Discord refused %s for %s again (attempt %d: %s); retrying in %.0f s",
                    "the thread" if refused.thread else "a message", stream_id, parked.attempts, refused, wait)

    async def _retry_parked(self) -> None:
        now = self._monotonic()
        due = [stream for stream, p in self._parked.items() if p.next_try <= now]
        # Every retry finishes (none is cancelled with a message half posted) before a failure is raised.
        outcomes = await asyncio.gather(*(self._retry(stream) for stream in due), return_exceptions=True)
        failures = [o for o in outcomes if isinstance(o, BaseException)]
        if failures:
            raise failures[0]

    async def _retry(self, stream_id: str) -> None:
        STREAM.set(stream_id)  # a task of its own, like _handle_stream
        parked = self._parked.get(stream_id)
        if parked is None:
            return
        recs = parked.recs
        while recs:
            try:
                await self._handle(recs[0])
                await self._flush_fold(stream_id)
            except _Refused as refused:
                if refused.thread or parked.message_refusals + 1 < MAX_MESSAGE_ATTEMPTS:
                    self._park(stream_id, recs, refused, replace=True)
                    return
                log.error("Discord refused the message for event %s in %s %d times (%s); skipped, the store "
                          "still has it", recs[0].seq, stream_id, parked.message_refusals + 1, refused)
                await self._links.posted(stream_id, recs[0].seq)
                self._remember_posted(stream_id, recs[0].seq)
            parked.message_refusals = 0  # delivered or skipped: the next message starts afresh
            recs = recs[1:]
        self._parked.pop(stream_id, None)
        self.boards.touch()
        log.info("delivery for %s goes on after %d tries", stream_id, parked.attempts)

    # -- per event --------------------------------------------------------------------------------

    async def _handle_stream(self, recs: list[RecordedEvent]) -> bool:
        """One stream's events in order; False if stopped before the end. A parked stream's
        events join its queue; one that Discord refuses parks its stream with the rest."""
        stream_id = recs[0].stream_id
        STREAM.set(stream_id)  # each stream is delivered in a task of its own (gather)
        for i, rec in enumerate(recs):
            if self._stop.is_set():
                return False
            parked = self._parked.get(stream_id)
            if parked is not None:
                parked.recs.extend(recs[i:])
                return True
            try:
                await self._handle(rec)
            except _Refused as refused:  # the tool calls it flushed first, if those were refused, then the rest
                self._park(stream_id, [*refused.recs, *recs[i:]], refused)
                return True
        return True

    async def _handle(self, rec: RecordedEvent) -> None:
        event = rec.event
        if event is None:
            return
        self.boards.touch_for(event)
        if isinstance(event, ev.ExecutionEvent):
            await self.cards.touch_run(rec)
            return
        if isinstance(event, ev.ToolUsed):
            if self._tool_events and parse_issue_stream_id(rec.stream_id):
                fold = self._folds.setdefault(rec.stream_id, _Fold(started=self._monotonic()))
                fold.recs.append(rec)
            return
        if isinstance(event, (ev.MilestoneComplete, ev.DigestCompiled)):
            await self._announce(rec)
            return
        stream_id = rec.stream_id
        if parse_issue_stream_id(stream_id) is None:
            return  # agent and milestone streams have no thread
        if not isinstance(event, ev.ObservabilityEvent):  # analytics change no document
            self.cards.touch(stream_id, rec.seq)
        mention = self._mention_for(rec)
        escalation = self._escalation_for(rec)
        post = render(rec, mention, await self._pr_url(event), escalation)
        if post is None:
            return
        await self._flush_fold(stream_id)  # earlier tool calls first: stream order
        posted = await self._deliver(stream_id, rec.seq, post, title_hint=getattr(event, "title", None))
        if posted and mention is not None and isinstance(event, (ev.HumanGateTriggered, ev.HumanGateReminder)):
            self._last_mention[stream_id] = self._monotonic()  # once posted: a retried message still pings
        if escalation is not None:
            self._last_escalation[stream_id] = self._monotonic()
        for panel, note in closed_panels(event):
            await self._close_panel(panel, stream_id, note)

    def _mention_for(self, rec: RecordedEvent) -> str | None:
        """The role mention for ``rec``'s message, or None when its gate was mentioned too lately."""
        if self._role is None or not isinstance(rec.event, (ev.HumanGateTriggered, ev.HumanGateReminder)):
            return self._role
        last = self._last_mention.get(rec.stream_id)
        # A tenth of slack: a reminder due one interval after the gate opened must still ping when
        # the gate's own message happened to be delivered a little later than the reminder is.
        if last is not None and self._monotonic() - last < 0.9 * self._mention_every:
            return None
        return self._role

    def _escalation_for(self, rec: RecordedEvent) -> str | None:
        """The escalation role's mention for a reminder the gate ladder escalates, unless that role
        was mentioned for this gate less than an interval ago."""
        event = rec.event
        if self._escalation is None or not isinstance(event, ev.HumanGateReminder) \
                or not reminder_escalates(event, self._escalate_after):
            return None
        last = self._last_escalation.get(rec.stream_id)
        if last is not None and self._monotonic() - last < 0.9 * self._mention_every:
            return None
        return self._escalation

    async def _announce(self, rec: RecordedEvent) -> None:
        """A post in the channel itself (MILESTONE_COMPLETE, the daily digest), once even across replays."""
        key = f"announce:{rec.id}"
        post = render(rec)
        event = rec.event
        if post is None or not isinstance(event, (ev.MilestoneComplete, ev.DigestCompiled)) \
                or await self._links.message_for(key) is not None:
            return
        # A milestone's in its repo's channel; the digest, which is the whole rig's, in the default one.
        channel = (await self._routing.channel_for(event.repo) if isinstance(event, ev.MilestoneComplete)
                   else self._routing.default_channel)
        try:
            channel = await self.boards.announcement_target(channel)
            message_id = await self._poster.send_to_channel(channel, post)
        except MessageRefused as exc:
            log.error("Discord refused the announcement of event %s (%s); skipped", rec.seq, exc)
            message_id = 0  # recorded all the same: a replay must not try again
        await self._links.remember_message(key, 0, message_id)

    async def _pr_url(self, event: ev.Event) -> str | None:
        """The issue's PR link, for a gate event that names the PR by number only."""
        if not isinstance(event, ev.HumanGateTriggered) or event.pr_url:
            return None
        issue = await self._read_models.issue(event_route(event).id)
        return issue.pr_url if issue is not None else None

    async def _deliver(self, stream_id: str, seq: int, post: Post, title_hint: str | None = None) -> bool:
        """Post ``post`` into the stream's thread; False if the thread has it already (a replay)."""
        thread = await self._thread(stream_id)
        if thread is not None and thread[1] >= seq:
            return False  # already in the thread (a replay)
        try:
            opened = await self._poster.open_thread(thread[0] if thread else None,
                                                    self._new_thread(stream_id, title_hint))
        except MessageRefused as exc:
            raise _Refused(f"thread: {exc}", thread=True) from exc
        thread_id = opened.thread_id
        await self.cards.opened(stream_id, opened)
        if thread is None or thread[0] != thread_id:
            await self._links.link(stream_id, thread_id)
            self._threads[stream_id] = (thread_id, thread[1] if thread else 0)
        try:
            message_id = await self._poster.send(thread_id, post, stream_id)
        except MessageRefused as exc:
            raise _Refused(f"message for event {seq}: {exc}", thread=False) from exc
        if post.panel is not None:
            await self._links.remember_message(f"{post.panel}:{stream_id}", thread_id, message_id)
        await self._links.posted(stream_id, seq)
        self._threads[stream_id] = (thread_id, seq)
        return True

    def _remember_posted(self, stream_id: str, seq: int) -> None:
        thread = self._threads.get(stream_id)
        if thread is not None:
            self._threads[stream_id] = (thread[0], max(thread[1], seq))

    async def _thread(self, stream_id: str) -> tuple[int, int] | None:
        if stream_id not in self._threads:
            found = await self._links.thread_for(stream_id)
            if found is None:
                return None
            self._threads[stream_id] = found
        return self._threads[stream_id]

    def _new_thread(self, stream_id: str, title_hint: str | None) -> NewThread:
        repo = stream_id.rpartition("#")[0]

        async def card() -> tuple[str, list[str]]:
            content, tags, _ = await self.cards.render(stream_id)
            return content, tags

        return NewThread(channel=lambda: self._routing.channel_for(repo),
                         name=lambda: self._thread_name(stream_id, title_hint), card=card)

    async def _thread_name(self, stream_id: str, title_hint: str | None) -> str:
        parsed = parse_issue_stream_id(stream_id)
        assert parsed is not None
        title = title_hint
        if not title:
            issue = await self._read_models.issue(stream_id)
            title = issue.title if issue is not None else None
        return thread_name(parsed[0], parsed[1], title)

    async def _close_panel(self, panel: str, stream_id: str, note: str) -> None:
        key = f"{panel}:{stream_id}"
        found = await self._links.message_for(key)
        if found is None:
            return
        await self._poster.close_panel(found[0], found[1], panel, stream_id, note)
        await self._links.forget_message(key)

    # -- tool-call folding ------------------------------------------------------------------------

    async def _flush_folds(self) -> None:
        now = self._monotonic()
        due = [s for s, fold in self._folds.items() if now - fold.started >= self._fold_seconds]
        outcomes = await asyncio.gather(*(self._flush_fold(s) for s in due), return_exceptions=True)
        for stream_id, outcome in zip(due, outcomes, strict=True):
            if isinstance(outcome, _Refused):  # that issue alone waits
                self._park(stream_id, outcome.recs, outcome)
        failures = [o for o in outcomes if isinstance(o, BaseException) and not isinstance(o, _Refused)]
        if failures:
            raise failures[0]

    async def _flush_fold(self, stream_id: str) -> None:
        """Post the tool calls folded for ``stream_id``. A refusal carries them (``_Refused.recs``),
        so that they wait with the issue instead of being folded again."""
        STREAM.set(stream_id)  # in a task of its own when flushed by _flush_folds
        fold = self._folds.pop(stream_id, None)
        if fold is None:
            return
        thread = await self._thread(stream_id)
        fresh = [r for r in fold.recs if thread is None or r.seq > thread[1]]
        if not fresh:
            return
        try:
            await self._deliver(stream_id, fresh[-1].seq, render_tools(fresh))
        except _Refused as refused:
            refused.recs = fresh
            raise


def closed_panels(event: ev.Event) -> list[tuple[str, str]]:
    """Which panels ``event`` closes, with the note the panel gets."""
    match event:
        case ev.HumanGateApproved():
            return [("gate", f"✅ Approved by {event.decided_by}")]
        case ev.HumanGateRejected():
            return [("gate", f"⛔ Rejected by {event.decided_by}")]
        case ev.Merged():
            return [("gate", "🎉 Closed: the PR was merged")]
        case ev.Escalated():
            return [("gate", "🆘 Closed: the issue was escalated")]
        case ev.IssueDone():
            return [("gate", "🏁 Closed: the issue is done"), ("escalation", "🏁 Closed: the issue is done")]
        case ev.IssueRequeued():
            return [("escalation", f"🔁 Back in the queue ({event.decided_by})")]
        case ev.IssueClosed():
            return [("gate", f"🛑 Issue closed by {event.decided_by}"),
                    ("escalation", f"🛑 Closed by {event.decided_by}")]
    return []
