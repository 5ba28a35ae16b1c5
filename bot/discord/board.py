"""The board: one message per issue channel listing what needs a human now. Pure: no I/O.

Open gates (oldest first, with how long they have waited), escalated issues, stuck agents and
parked deliveries, each linking to its thread. Waiting times are Discord timestamps, so the board
is edited only when what it lists changes, not every minute.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from commands.markdown import text
from eventstore.projections.agent_status import AgentStatus
from eventstore.projections.issue_status import IssueStatus

from .rendering import MESSAGE_LIMIT
from .status_card import when

BOARD_MARK = "📌"
BOARD_POST_NAME = "📌 Needs a human"  # the board's own post in a forum channel


@dataclass
class BoardItems:
    """What one channel's board lists, each with the thread it links to (None: no thread yet)."""

    gates: list[tuple[IssueStatus, int | None]] = field(default_factory=list)
    escalated: list[tuple[IssueStatus, int | None]] = field(default_factory=list)
    stuck: list[tuple[AgentStatus, int | None]] = field(default_factory=list)
    parked: list[tuple[dict[str, Any], int | None]] = field(default_factory=list)  # notifier.parked() entries


def _thread(thread_id: int | None) -> str:
    return f" → <#{thread_id}>" if thread_id else ""


def _issue(issue: IssueStatus) -> str:
    return f"**{text(issue.id)}**" + (f" {text(issue.title)}" if issue.title else "")


def render_board(items: BoardItems, scope: str) -> str:
    """The board of one channel; ``scope`` says which repos it covers."""
    sections: list[tuple[str, list[str]]] = []
    gates = sorted(items.gates, key=lambda g: (g[0].gate.since.timestamp() if g[0].gate and g[0].gate.since else 0.0,
                                               g[0].id))
    sections.append(("🚦 **Open gates**, oldest first", [
        f"• {_issue(i)} — {text(i.gate.reason or 'no reason given') if i.gate else ''}"
        + (f" · PR #{i.gate.pr_number}" if i.gate and i.gate.pr_number else "")
        + (f" · waiting since {when(i.gate.since)}" if i.gate and i.gate.since else "") + _thread(t)
        for i, t in gates]))
    sections.append(("🆘 **Escalated**", [
        f"• {_issue(i)} — {text(i.escalation.reason or 'no reason given') if i.escalation else 'escalated'}"
        + (f" · {when(i.escalation.at)}" if i.escalation and i.escalation.at else "") + _thread(t)
        for i, t in sorted(items.escalated, key=lambda e: e[0].id)]))
    sections.append(("🧱 **Stuck agents**", [
        f"• **{text(a.id)}**" + (f" on {text(a.stuck_on)}" if a.stuck_on else "")
        + (f": {text(a.stuck_reason)}" if a.stuck_reason else "")
        + (f" · silent since {when(a.stuck_since)}" if a.stuck_since else "") + _thread(t)
        for a, t in sorted(items.stuck, key=lambda s: s[0].id)]))
    sections.append(("📭 **Parked deliveries** (Discord refused them; retried with backoff)", [
        f"• {text(p['stream'])} — {text(p['reason'])} · {p['attempts']} "
        f"tr{'ies' if p['attempts'] != 1 else 'y'}" + _thread(t)
        for p, t in sorted(items.parked, key=lambda p: str(p[0]["stream"]))]))
    header = f"{BOARD_MARK} **Needs a human** · {scope}"
    listed = [(title, lines) for title, lines in sections if lines]
    if not listed:
        return f"{header}\n✅ Nothing waits for a human."
    return _fit(header, listed)


def _fit(header: str, sections: Sequence[tuple[str, list[str]]]) -> str:
    """Every section's title, and as many of its lines as fit in one message ("… and N more")."""
    budget = MESSAGE_LIMIT - len(header) - sum(len(t) + 30 for t, _ in sections)
    out = [header]
    for title, lines in sections:
        out.append(f"{title} ({len(lines)})")
        shown = 0
        for line in lines:
            if len(line) + 1 > budget:
                break
            out.append(line)
            budget -= len(line) + 1
            shown += 1
        if shown < len(lines):
            out.append(f"… and {len(lines) - shown} more")
    return "\n".join(out)
