"""Status cards and the board in scenario discord_latency: POST -> card updated, board edits per second.

Every write of a status card (posted with its thread or edited) and of a board is timestamped as it
reaches the fake's state, like the messages (``Arrivals``). A card shows the failed checks of the
issue's last CI_FAILED, so a CI_FAILED whose check name carries a token is "on the card" from the
first card write at or after its POST that shows its token or the token of a later CI_FAILED of the
same issue (a debounced edit shows the newest state, which covers the changes before it):
latency = that write - send. Cells:

- ``card``: ``--discord-card-events`` (100) CI_FAILED, one every ``--discord-card-interval-ms`` (50 ms)
  round robin over the issues (with 50 issues, each issue's next change comes 2.5 s later, after its
  card's debounce interval, DISCORD_CARD_SECONDS = 2 s, ended): the leading edge, an edit per change.
  Target (issue 14): p95 under 1 s.
- ``board``: ``--discord-board-events`` (200) gate changes, one every ``--discord-board-interval-ms``
  (20 ms): HUMAN_GATE_TRIGGERED then MERGED (which closes it) per issue in turn, all in the default
  channel, i.e. 50 board changes a second in one channel. The board's edits in that channel per second
  (max in any 1 s and in any 5 s window), against Discord's ~5 per 5 s per channel (target: never
  more), until the board shows that nothing waits.

The ``existing`` cell's CI_FAILED (half its events, one per issue per second: faster than the
debounce) give the card latency while changes coalesce, and how many changes one edit carries.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from bot.discord.board import BOARD_MARK
from bot.discord.status_card import CARD_MARK

TOKEN_RE = re.compile(r"bt-(\d{7})-k")
ISSUE_RE = re.compile(r"\*\*bench/discord#(\d+)\*\*")
DISCORD_CHANNEL_RATE = 5  # edits per 5 s per channel (not published; the commonly observed bucket)


@dataclass(frozen=True)
class CardChange:
    issue: int
    token: str
    t0: float


class CardWrites:
    """Every card and board write, as it reaches the fake (hooked into its state)."""

    def __init__(self, state: Any) -> None:
        self.cards: defaultdict[int, list[tuple[float, list[str]]]] = defaultdict(list)
        self.boards: defaultdict[str, list[float]] = defaultdict(list)
        self.board_text: dict[str, str] = {}
        self._change = asyncio.Event()
        edit_message = state.edit_message

        def timed_edit_message(message: dict[str, Any], body: dict[str, Any]) -> Any:
            content = (body or {}).get("content")
            if isinstance(content, str):
                self.saw(str(message["channel_id"]), content, time.perf_counter())
            return edit_message(message, body)

        state.edit_message = timed_edit_message

    def saw(self, channel_id: str, content: str, t: float) -> bool:
        """Record ``content`` if it is a card or a board (True), else leave it to the messages."""
        if content.startswith(CARD_MARK):
            found = ISSUE_RE.search(content.split("\n", 1)[0])
            tokens = [f"bt-{n}-k" for n in TOKEN_RE.findall(content)]
            self.cards[int(found.group(1)) if found else -1].append((t, tokens))
        elif content.startswith(BOARD_MARK):
            self.boards[channel_id].append(t)
            self.board_text[channel_id] = content
        else:
            return False
        self._change.set()
        self._change = asyncio.Event()
        return True

    async def until(self, done: Any, timeout: float) -> bool:
        """Until ``done()`` (re-checked after every card or board write) or ``timeout`` seconds."""
        deadline = time.perf_counter() + timeout
        while not done():
            change, left = self._change, deadline - time.perf_counter()
            if left <= 0:
                return False
            try:
                await asyncio.wait_for(change.wait(), left)
            except TimeoutError:
                return bool(done())
        return True

    def latencies(self, changes: list[CardChange]) -> list[float]:
        """POST -> the card showing each change (``inf``: never shown)."""
        order: defaultdict[int, dict[str, int]] = defaultdict(dict)
        for change in changes:
            order[change.issue][change.token] = len(order[change.issue])
        out = []
        for change in changes:
            index = order[change.issue][change.token]
            shown = next((t - change.t0 for t, tokens in self.cards[change.issue] if t >= change.t0 and
                          max((order[change.issue].get(tok, -1) for tok in tokens), default=-1) >= index), None)
            out.append(shown if shown is not None else float("inf"))
        return out

    def covered(self, changes: list[CardChange]) -> bool:
        return all(x != float("inf") for x in self.latencies(changes))

    def writes_between(self, issues: set[int], start: float, end: float) -> int:
        return sum(1 for issue in issues for t, _ in self.cards[issue] if start <= t <= end)


def card_changes(bodies: list[tuple[dict[str, Any], str]], sent: list[Any]) -> list[CardChange]:
    """The CI_FAILED among ``bodies`` (sent as ``sent``, in order): the changes a card shows by token."""
    return [CardChange(int(body["issueNumber"]), tok, s.t0) for (body, tok), s in zip(bodies, sent, strict=True)
            if body["type"] == "CI_FAILED"]


def card_figures(writes: CardWrites, changes: list[CardChange], start: float, end: float) -> dict[str, Any]:
    """The card latency summary (``card_`` prefix) and how many changes one card write carried."""
    from .discord_latency import summary

    latency = writes.latencies(changes)
    issues = {c.issue for c in changes}
    count = writes.writes_between(issues, start, end)
    out: dict[str, Any] = dict(summary(latency, "card_"))
    out.update(card_changes=len(changes), card_writes=count, card_lost=sum(1 for x in latency if x == float("inf")),
               changes_per_card_write=len(changes) / count if count else 0.0,
               card_samples_ms=[round(x * 1e3, 3) if x != float("inf") else None for x in latency])
    return out


def board_rate(times: list[float], start: float, end: float) -> dict[str, Any]:
    """A board's edits in [start, end]: how many, and the most in any 1 s and any 5 s window."""
    inside = sorted(t for t in times if start <= t <= end)

    def most(window: float) -> int:
        best, j = 0, 0
        for i, t in enumerate(inside):
            while inside[j] < t - window + 1e-9:
                j += 1
            best = max(best, i - j + 1)
        return best

    span = max(end - start, 1e-9)
    return {"board_edits": len(inside), "board_max_per_1s": most(1.0), "board_max_per_5s": most(5.0),
            "board_edits_per_s": len(inside) / span, "board_window_s": span}


async def run_board_cell(scenario: Any, h: Any) -> dict[str, Any]:
    """Gates opened and closed as fast as the pacing allows, all on one channel's board."""
    options = h.options
    writes: CardWrites = scenario.writes
    channel = scenario.fake.channel_id
    bodies: list[tuple[dict[str, Any], str]] = []
    for i in range(options.discord_board_events):
        number = scenario.issues[(i // 2) % len(scenario.issues)]
        tok = scenario._next_token()
        if i % 2 == 0:
            bodies.append(({"type": "HUMAN_GATE_TRIGGERED", "repo": "bench/discord", "issueNumber": number,
                            "prNumber": number, "reason": f"bench gate {tok}"}, tok))
        else:  # closes the gate; its message ("PR #n merged") carries no token: not timed
            bodies.append(({"type": "MERGED", "repo": "bench/discord", "issueNumber": number, "prNumber": number,
                            "mergeSha": tok}, ""))
    start = time.perf_counter()
    interval = options.discord_board_interval_ms / 1e3
    for i, (body, tok) in enumerate(bodies):
        delay = start + i * interval - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)  # pacing the load, not synchronisation
        if tok:
            await scenario._post(body, tok)
        else:
            await scenario._post_untimed(body)
    sent = time.perf_counter()
    settled = await writes.until(lambda: "Nothing waits" in writes.board_text.get(channel, ""),
                                 options.discord_timeout)
    end = time.perf_counter()
    await scenario.arrivals.wait_all(options.discord_timeout)
    out = board_rate(writes.boards[channel], start, end)
    out.update(board_changes=len(bodies), board_settled=settled, board_settle_s=end - sent,
               changes_per_board_edit=len(bodies) / out["board_edits"] if out["board_edits"] else 0.0,
               events=len(bodies), lost=0 if settled else 1)
    return out


def report_rows(pooled: dict[str, dict[str, Any]], medians: dict[str, dict[str, Any]]) -> list[list[str]]:
    """The rows of the cards-and-board table: one per cell that measured either."""
    from .discord_latency import _ms

    rows = []
    for key, m in medians.items():
        p = pooled.get(key, {})
        if "card_p95_ms" in p:
            rows.append([key, "POST → card updated", f"{p.get('card_changes', 0):,}", _ms(p.get("card_p50_ms")),
                         _ms(p.get("card_p95_ms")), _ms(p.get("card_p99_ms")), _ms(p.get("card_max_ms")),
                         str(p.get("card_lost", 0)), f"{m.get('changes_per_card_write', 0):.2f} changes per edit"])
        if "board_edits" in m:
            rows.append([key, "board edits (one channel)", f"{m.get('board_changes', 0):,.0f}", "—", "—", "—", "—",
                         "0" if m.get("board_settled", True) else "not settled",
                         f"{m['board_edits']:.0f} edits, max {m['board_max_per_1s']:.0f} in 1 s and "
                         f"{m['board_max_per_5s']:.0f} in 5 s ({m['board_edits_per_s']:.2f}/s over "
                         f"{m['board_window_s']:.1f} s); {m.get('changes_per_board_edit', 0):.1f} changes per edit"])
    return rows


def pool_cards(runs: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Card latencies pooled over the repetitions of each cell (``inf``: never shown)."""
    from .discord_latency import summary

    pooled: dict[str, dict[str, Any]] = {}
    for key, values in runs.items():
        samples = [x if x is not None else float("inf") for r in values for x in r.get("card_samples_ms", [])]
        if samples:
            pooled[key] = {**summary([x / 1e3 for x in samples], "card_"), "card_changes": len(samples),
                           "card_lost": sum(1 for x in samples if x == float("inf"))}
    return pooled
