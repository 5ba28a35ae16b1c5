"""The daily digest as a Discord message, posted in the channel as the notifier renders it."""

from __future__ import annotations

from bot.discord.rendering import MESSAGE_LIMIT, render
from commands.digest_text import digest_text, duration
from eventstore.activity import Activity, CostBreakdown
from eventstore.digest import compile_digest
from eventstore.events import DIGEST_STREAM
from eventstore.store import PendingEvent, RecordedEvent
from eventstore.streams import route

from .test_digest import ACTIVITY, COST, END, START


def test_a_quiet_day() -> None:
    digest = compile_digest(Activity(), CostBreakdown(), START, END)
    assert digest.done_count == digest.merged_count == digest.gates_approved == 0
    assert digest.median_merge_minutes is None and digest.median_gate_wait_minutes is None and digest.cost_usd == 0
    text = digest_text(digest)
    assert "🏁 Done: **0**\n" in text and "🚦 Gates decided: **0**\n" in text and "by agent" not in text


def test_the_digest_message() -> None:
    text = digest_text(compile_digest(ACTIVITY, COST, START, END))
    lines = text.splitlines()
    assert lines[0] == "📰 **Daily digest** — 2026-12-01 09:00 → 2026-12-02 09:00 UTC"
    assert lines[1].startswith("🏁 Done: **13** — acme/app#1, acme/app#2,") and lines[1].endswith("and 3 more")
    assert lines[2] == "🆘 Escalated: **1** — acme/app#20" and lines[3] == "🧱 Stuck reports: **3**"
    assert lines[4] == "🎉 Merged: **4** · median time to merge 1 h 30 min"
    assert lines[5] == "🚦 Gates decided: **3** (2 approved, 1 rejected) · median wait 45 min"
    assert lines[6:] == ["💸 LLM cost: **$2.75**", "   by agent: dev-e-1 $2.50 · review-e $0.25",
                         "   by repo: acme/app $2.00 · (no repo) $0.75"]
    assert (duration(59.6), duration(120), duration(130), duration(3000)) == ("1 h", "2 h", "2 h 10 min", "2 d 2 h")


def test_the_digest_is_posted_in_the_channel_as_its_message() -> None:
    digest = compile_digest(ACTIVITY, COST, START, END)
    pending = PendingEvent.of(digest)
    assert route(digest).id == DIGEST_STREAM
    recorded = RecordedEvent(1, pending.event_id, DIGEST_STREAM, 1, digest.alias, END, pending.data)
    post = render(recorded)
    assert post is not None and post.content == digest_text(digest) and len(post.content) <= MESSAGE_LIMIT
    assert not post.mentions_role and post.panel is None
