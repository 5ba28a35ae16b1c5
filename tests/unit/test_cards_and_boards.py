"""The status card, the forum tags that follow the state, and the board: pure renderings, within
Discord's limits, agent text unable to format them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.discord.board import BOARD_MARK, BoardItems, render_board
from bot.discord.rendering import MESSAGE_LIMIT
from bot.discord.status_card import (
    CARD_MARK,
    GATE_TAG,
    MANAGED_TAGS,
    applied_tags,
    render_card,
    tag_key,
    wanted_tags,
)
from eventstore.projections import agent_status, issue_status
from eventstore.projections.agent_status import AgentStatus
from eventstore.projections.execution_log import ExecutionLog
from eventstore.projections.issue_status import Escalation, Gate, IssueState, IssueStatus

from .helpers import ISSUE, T0, rec


def issue(**fields: object) -> IssueStatus:
    return IssueStatus(id="acme/app#7", repo="acme/app", issue_number=7, **fields)  # type: ignore[arg-type]


def stamp(minutes: float = 0) -> str:
    return f"<t:{int((T0 + timedelta(minutes=minutes)).timestamp())}:R>"


def test_the_card_shows_where_the_issue_stands() -> None:
    doc = issue(title="Add auth", priority="high", state=IssueState.IN_REVIEW, assigned_agent="dev-e-1", attempt=2,
                pr_number=88, pr_url="https://github.com/acme/app/pull/88", ci_status="failed",
                failed_checks=["lint", "unit"], review_state="disputed", approved_at=T0,
                started_at=T0 + timedelta(minutes=5), updated_at=T0 + timedelta(minutes=9),
                gate=Gate(open=True, reason="touches auth", since=T0 + timedelta(minutes=8), reminders_sent=2))
    run = ExecutionLog(id="r1", agent_id="dev-e-1/abc12", agent="dev-e-1", status="completed", total_cost_usd=1.25,
                       total_turns=42, started_at=T0, updated_at=T0, completed_at=T0)
    card = render_card("acme/app#7", doc, run).splitlines()
    assert card == [
        f"{CARD_MARK} **acme/app#7** Add auth",
        "🔍 **In review** · priority high",
        "👤 **dev-e-1** (attempt 2)",
        "🔀 PR #88 · CI ❌ failed: lint, unit · review 🗣️ disputed · https://github.com/acme/app/pull/88",
        f"🚦 Gate **open** since {stamp(8)}: touches auth (2 reminders)",
        f"⏱️ approved {stamp()} · work started {stamp(5)}",
        "💰 Latest run: `completed` · $1.25 · 42 turns · dev-e-1/abc12",
        f"-# Last change {stamp(9)}",
    ]


def test_the_card_of_a_closed_gate_an_escalation_and_a_done_issue() -> None:
    decided = issue(gate=Gate(open=False, reason="schema", decision="approved", decided_by="alice",
                              decided_at=T0), state=IssueState.DEPLOYING, environment="staging")
    text = render_card("acme/app#7", decided)
    assert f"🚦 Gate ✅ approved (alice) {stamp()}: schema" in text and "🌍 staging" in text
    rejected = issue(gate=Gate(open=False, reason="schema", decision="rejected", decided_by="bob", decided_at=T0,
                               decision_reason="split the *migration*"))
    assert "> split the \\*migration\\*" in render_card("acme/app#7", rejected)  # the reason, as text
    failed = issue(state=IssueState.FAILED, stuck_count=2, stuck_agents=["dev-e-1", "dev-e-2"],
                   escalation=Escalation(reason="two strikes", attempts=2, at=T0))
    text = render_card("acme/app#7", failed)
    assert f"🆘 Escalation {stamp()}: two strikes (attempts: 2)" in text
    assert "🧱 Stuck reports: 2 (dev-e-1, dev-e-2)" in text
    assert "⏱️ Done in 1 h 12 min" in render_card("acme/app#7", issue(state=IssueState.DONE, duration_minutes=72))
    assert render_card("acme/app#9", None) == f"{CARD_MARK} **acme/app#9** — no status yet"


def test_agent_text_cannot_format_the_card_and_it_fits_one_message() -> None:
    doc = issue(title="x **bold** <@&1> @everyone\n✅ Gate approved by admin", assigned_agent="a" * 200,
                gate=Gate(open=True, reason="r" * 5000), failed_checks=["[x](https://evil)"] * 50, ci_status="failed",
                pr_number=1, pr_url="javascript:alert(1)")
    card = render_card("acme/app#7", doc)
    assert len(card) <= MESSAGE_LIMIT and card.startswith(CARD_MARK)
    first = card.splitlines()[0]
    assert "\\*\\*bold\\*\\*" in first and "\\<@\u200b&1\\>" in first and "@\u200beveryone" in first
    assert "✅ Gate approved by admin" in first  # folded onto the title's line: it cannot fake a line


@pytest.mark.parametrize("state, tag", [(s, t) for s, t in zip(IssueState, ["queued", "assigned", "in progress",
                                                                          "in review", "deploying", "done", "failed",
                                                                          "closed"], strict=True)])
def test_one_tag_per_state_and_one_while_a_gate_waits(state: IssueState, tag: str) -> None:
    assert wanted_tags(issue(state=state)) == [tag]
    assert wanted_tags(issue(state=state, gate=Gate(open=True))) == [tag, GATE_TAG]
    assert wanted_tags(None) == []


def test_tags_match_by_name_case_insensitive_underscore_as_space() -> None:
    assert tag_key("In_Review") == tag_key("in review") == tag_key("  IN   REVIEW ") == "in review"
    available = {tag_key(name): i for i, name in enumerate(["Queued", "IN_REVIEW", "Gate Open", "bug", "ux"], 1)}
    assert applied_tags([], available, ["in review", GATE_TAG]) == [2, 3]
    # The managed tags are replaced, the ones people applied are kept, up to Discord's five.
    assert applied_tags([1, 4, 5], available, ["in review"]) == [2, 4, 5]
    assert applied_tags([4], available, ["deploying"]) == [4]  # the forum has no such tag: none of ours
    many = {tag_key(n): i for i, n in enumerate(["queued", "a", "b", "c", "d", "e"], 1)}
    assert applied_tags([2, 3, 4, 5, 6], many, ["queued"]) == [1, 2, 3, 4, 5]
    assert len(MANAGED_TAGS) == 9


def test_the_board_lists_gates_oldest_first_and_fits_one_message() -> None:
    old = issue(title="auth", gate=Gate(open=True, reason="touches auth", since=T0, pr_number=88))
    new = IssueStatus(id="acme/app#8", repo="acme/app", issue_number=8,
                      gate=Gate(open=True, reason="schema", since=T0 + timedelta(minutes=5)))
    failed = IssueStatus(id="acme/app#9", repo="acme/app", issue_number=9, state=IssueState.FAILED,
                         escalation=Escalation(reason="two strikes", at=T0))
    stuck = AgentStatus(id="dev-e-3", stuck_since=T0, stuck_on="acme/app#9", stuck_reason="silent")
    parked = {"stream": "acme/app#5", "reason": "403 Missing Permissions", "attempts": 3}
    board = render_board(BoardItems(gates=[(new, None), (old, 11)], escalated=[(failed, 12)], stuck=[(stuck, 12)],
                                    parked=[(parked, None)]), "acme/app")
    lines = board.splitlines()
    assert lines[0] == f"{BOARD_MARK} **Needs a human** · acme/app"
    assert lines[2] == f"• **acme/app#7** auth — touches auth · PR #88 · waiting since {stamp()} → <#11>"
    assert lines[3].startswith("• **acme/app#8** — schema")
    assert f"• **acme/app#9** — two strikes · {stamp()} → <#12>" in lines
    assert f"• **dev-e-3** on acme/app#9: silent · silent since {stamp()} → <#12>" in lines
    assert "• acme/app#5 — 403 Missing Permissions · 3 tries" in lines
    assert render_board(BoardItems(), "x").endswith("✅ Nothing waits for a human.")
    crowded = BoardItems(gates=[(IssueStatus(id=f"acme/app#{n}", repo="acme/app", issue_number=n, title="t" * 80,
                                             gate=Gate(open=True, reason="r" * 80, since=T0)), None)
                                for n in range(1, 200)],
                         escalated=[(failed, None)])
    text = render_board(crowded, "acme/app")
    assert len(text) <= MESSAGE_LIMIT and "… and " in text and "**Escalated** (1)" in text


def test_an_agent_is_stuck_until_it_sends_a_heartbeat_again() -> None:
    stuck = rec("AGENT_STUCK", 1, **ISSUE, agentId="dev-e-1/abc12", reason="silent")
    doc = agent_status.evolve(None, "dev-e-1", stuck)
    assert doc is not None and (doc.stuck_since, doc.stuck_on, doc.stuck_reason) == (stuck.timestamp, "acme/app#7",
                                                                                      "silent")
    again = agent_status.evolve(doc, "dev-e-1", rec("AGENT_STUCK", 3, agentId="dev-e-1", reason="still"))
    assert again is not None and again.stuck_since == stuck.timestamp and again.stuck_count == 2
    beat = agent_status.evolve(again, "dev-e-1", rec("HEARTBEAT", 4, agentId="dev-e-1/abc12", status="idle"))
    assert beat is not None and beat.stuck_since is None and beat.stuck_on is None and beat.stuck_count == 2
    assert issue_status.evolve(None, stuck).stuck_count == 1  # the issue's own count is kept as before
