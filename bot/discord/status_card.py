"""The status card at the top of each issue thread, and the forum tags that follow the state.
Pure: no discord.py, no I/O.

The card shows where the issue stands now; the thread's messages below it are the history. Times
are Discord timestamps (``<t:…:R>``), which every client shows relative to its own "now" ("12
minutes ago"), so the card stays true between edits without being edited every minute. What
agents sent is escaped as in the thread's messages (``commands.markdown``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from commands.formatting import run_line
from commands.markdown import link, text
from eventstore.projections.execution_log import ExecutionLog
from eventstore.projections.issue_status import IssueState, IssueStatus

from .rendering import MESSAGE_LIMIT, trim

CARD_MARK = "📇"  # a card's first character: how tests and the benchmark tell it from the messages

_STATES = {
    IssueState.QUEUED: "🕓 **Queued**", IssueState.ASSIGNED: "👤 **Assigned**",
    IssueState.IN_PROGRESS: "🛠️ **In progress**", IssueState.IN_REVIEW: "🔍 **In review**",
    IssueState.DEPLOYING: "🚀 **Deploying**", IssueState.DONE: "🏁 **Done**", IssueState.FAILED: "🆘 **Failed**",
    IssueState.CLOSED: "🛑 **Closed**",
}
_DECISIONS = {"approved": "✅ approved", "rejected": "⛔ rejected", "merged": "🎉 closed by the merge",
              "done": "🏁 closed: the issue is done", "escalated": "🆘 closed by the escalation",
              "closed": "🛑 closed with the issue"}

# One forum tag per state, plus one while a gate waits (issue 14). Matched to a forum's tags by
# name, case-insensitively and with "_" read as a space (``tag_key``).
STATE_TAGS = {
    IssueState.QUEUED: "queued", IssueState.ASSIGNED: "assigned", IssueState.IN_PROGRESS: "in progress",
    IssueState.IN_REVIEW: "in review", IssueState.DEPLOYING: "deploying", IssueState.DONE: "done",
    IssueState.FAILED: "failed", IssueState.CLOSED: "closed",
}
GATE_TAG = "gate open"
MANAGED_TAGS = (*STATE_TAGS.values(), GATE_TAG)
POST_TAG_LIMIT = 5  # Discord's limit of tags on one forum post


def when(at: datetime) -> str:
    """``at`` as a Discord timestamp each reader sees relative to now."""
    return f"<t:{int(at.timestamp())}:R>"


def _duration(minutes: float) -> str:
    hours, mins = divmod(int(round(minutes)), 60)
    return f"{hours} h {mins} min" if hours else f"{mins} min"


def render_card(stream_id: str, issue: IssueStatus | None, run: ExecutionLog | None = None) -> str:
    """The card of ``stream_id``: its state and everything a human asks first, within one message."""
    if issue is None:
        return f"{CARD_MARK} **{text(stream_id)}** — no status yet"
    lines = [f"{CARD_MARK} **{text(issue.id)}**" + (f" {text(issue.title)}" if issue.title else "")]
    lines.append(f"{_STATES[issue.state]} · priority {text(issue.priority)}"
                 + (f" · milestone {text(issue.milestone)}" if issue.milestone else ""))
    who = f"👤 **{text(issue.assigned_agent)}**" if issue.assigned_agent else "👤 nobody assigned"
    lines.append(who + (f" (attempt {issue.attempt})" if issue.attempt else ""))
    if issue.pr_number or issue.pr_url or issue.ci_status or issue.review_state:
        parts = [f"🔀 PR #{issue.pr_number}" if issue.pr_number else "🔀 PR" if issue.pr_url else "🧪 no PR yet"]
        if issue.ci_status == "passed":
            parts.append("CI ✅ passed")
        elif issue.ci_status == "failed":
            checks = ", ".join(text(c) for c in issue.failed_checks[:5])
            parts.append("CI ❌ failed" + (f": {checks}" if checks else ""))
        if issue.review_state:
            parts.append(f"review {'👍' if issue.review_state == 'passed' else '🗣️'} {text(issue.review_state)}")
        if issue.pr_url:
            parts.append(link(issue.pr_url))
        lines.append(" · ".join(parts))
    gate = issue.gate
    if gate is not None and gate.open:
        reminders = f" ({gate.reminders_sent} reminder{'s' if gate.reminders_sent != 1 else ''})" \
            if gate.reminders_sent else ""
        since = f" since {when(gate.since)}" if gate.since else ""
        lines.append(f"🚦 Gate **open**{since}: {text(gate.reason or 'no reason given')}{reminders}")
    elif gate is not None:
        decided = _DECISIONS.get(gate.decision or "", text(gate.decision or "closed"))
        by = f" ({text(gate.decided_by)})" if gate.decided_by else ""
        at = f" {when(gate.decided_at)}" if gate.decided_at else ""
        lines.append(f"🚦 Gate {decided}{by}{at}: {text(gate.reason or 'no reason given')}")
        if gate.decision_reason:  # what the human wrote with the decision (a rejection's reason, a note)
            lines.append(f"> {text(gate.decision_reason)}")
    if issue.escalation is not None and issue.state is IssueState.FAILED:
        e = issue.escalation
        attempts = f" (attempts: {e.attempts})" if e.attempts else ""
        at = f" {when(e.at)}" if e.at else ""
        lines.append(f"🆘 Escalation{at}: {text(e.reason or 'no reason given')}{attempts}")
    if issue.stuck_count:
        lines.append(f"🧱 Stuck reports: {issue.stuck_count} ({', '.join(text(a) for a in issue.stuck_agents)})")
    if issue.environment or issue.smoke_retries:
        env = f"🌍 {text(issue.environment)}" if issue.environment else "🌍 deploying"
        lines.append(env + (f" · smoke retries {issue.smoke_retries}" if issue.smoke_retries else ""))
    lines.append(_elapsed(issue))
    if run is not None:
        lines.append(f"💰 {run_line(run)}")
    if issue.updated_at is not None:
        lines.append(f"-# Last change {when(issue.updated_at)}")
    return trim("\n".join(lines), MESSAGE_LIMIT)


def _elapsed(issue: IssueStatus) -> str:
    if issue.state is IssueState.DONE and issue.duration_minutes is not None:
        return f"⏱️ Done in {_duration(issue.duration_minutes)}"
    parts = []
    if issue.approved_at is not None:
        parts.append(f"approved {when(issue.approved_at)}")
    if issue.started_at is not None:
        parts.append(f"work started {when(issue.started_at)}")
    return "⏱️ " + (" · ".join(parts) if parts else "not approved yet")


def tag_key(name: str) -> str:
    """A tag's name as it is matched: case-insensitive, ``_`` as a space, spaces folded."""
    return " ".join(name.replace("_", " ").casefold().split())


def wanted_tags(issue: IssueStatus | None) -> list[str]:
    """The managed tags ``issue``'s post should carry: its state's, and ``gate open`` while a gate waits."""
    if issue is None:
        return []
    return [STATE_TAGS[issue.state]] + ([GATE_TAG] if issue.gate_open else [])


def applied_tags(current: Sequence[int], available: Mapping[str, int], wanted: Sequence[str]) -> list[int]:
    """The tag ids a post should carry: ``wanted`` (by name, those the forum has; ``available`` maps
    ``tag_key`` to id), then the tags someone else applied that are not ours, up to Discord's 5."""
    managed = {available[tag_key(n)] for n in MANAGED_TAGS if tag_key(n) in available}
    ours = [available[tag_key(n)] for n in wanted if tag_key(n) in available]
    theirs = [t for t in current if t not in managed and t not in ours]
    return list(dict.fromkeys(ours + theirs))[:POST_TAG_LIMIT]
