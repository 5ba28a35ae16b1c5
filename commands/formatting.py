"""Answers to slash commands as text within Discord's limits. Pure: no discord.py, no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from eventstore.projections.agent_status import AgentStatus, degraded, is_online
from eventstore.projections.execution_log import ExecutionLog
from eventstore.projections.issue_status import IssueStatus
from eventstore.projections.repo_learnings import RepoLearnings
from eventstore.read_models import Listing
from eventstore.stats import CostStat, MemoryStat, ToolStat
from eventstore.store import RecordedEvent

from .markdown import code, link, text

LIMIT = 1900  # under Discord's 2,000 characters, leaving room for a page footer
PAGE_SIZE = 10
LIST_LIMIT = 1000  # the most a one-message overview reads (it shows fewer, "… and N more")


@dataclass(frozen=True)
class Page:
    content: str
    previous: int | None = None  # position of the previous page, if any
    next: int | None = None


def _cap(lines: Sequence[str], header: str) -> str:
    out = header
    for i, line in enumerate(lines):
        if len(out) + len(line) + 1 > LIMIT:
            return out + f"\n… and {len(lines) - i} more"
        out += "\n" + line
    return out


def ago(then: datetime | None, now: datetime) -> str:
    if then is None:
        return "never"
    seconds = int((now - then).total_seconds())
    if seconds < 90:
        return f"{max(seconds, 0)} s ago"
    if seconds < 5400:
        return f"{seconds // 60} min ago"
    return f"{seconds // 3600} h ago"


def agent_line(agent: AgentStatus, now: datetime, online_after: timedelta) -> str:
    dot = "🟢" if is_online(agent, now, online_after) else "⚫"
    parts = [text(agent.status)]
    if agent.assignment:
        parts.append(text(agent.assignment))
    elif agent.current_repo and agent.current_issue:
        parts.append(text(f"{agent.current_repo}#{agent.current_issue}"))
    if agent.active_provider:
        parts.append(text(agent.active_provider))
    bad = degraded(agent)
    if bad:
        parts.append("⚠️ " + ", ".join(text(b) for b in bad))
    return f"{dot} **{text(agent.id)}** — " + " · ".join(parts)


def agents_overview(agents: Sequence[AgentStatus], now: datetime, online_after: timedelta) -> str:
    online = sum(is_online(a, now, online_after) for a in agents)
    header = f"**{len(agents)} agent{'s' if len(agents) != 1 else ''}, {online} online**"
    if not agents:
        return header + "\nNo agent has reported yet."
    return _cap([agent_line(a, now, online_after) for a in agents], header)


def agent_detail(agent: AgentStatus, now: datetime, online_after: timedelta) -> str:
    lines = [agent_line(agent, now, online_after),
             f"Last heartbeat: {ago(agent.last_heartbeat, now)}",
             f"Assignment: {text(agent.assignment or 'none')}"
             + (f" (stuck {agent.stuck_count}×)" if agent.stuck_count else "")]
    if agent.available_providers:
        lines.append("Providers available: " + ", ".join(text(p) for p in agent.available_providers))
    for p in agent.providers:
        lines.append(f"• provider **{text(p.name)}**: {text(p.status)}" + (" (active)" if p.active else "")
                     + (f" — {text(p.details)}" if p.details else ""))
    for i in agent.integrations:
        lines.append(f"• integration **{text(i.name)}**: {text(i.status)}"
                     + (f" — {text(i.details)}" if i.details else ""))
    return _cap(lines[1:], lines[0])


def issue_line(issue: IssueStatus) -> str:
    who = f" · {text(issue.assigned_agent)}" if issue.assigned_agent else ""
    gate = " · 🚦 gate open" if issue.gate_open else ""
    title = f" {text(issue.title)}" if issue.title else ""
    return f"`{issue.state.value}` **{text(issue.id)}**{title} · {text(issue.priority)}{who}{gate}"


def run_line(run: ExecutionLog) -> str:
    """The latest run of an issue: ``Latest run: `completed` · $1.25 · 42 turns · dev-e-1 · model``."""
    so_far = "" if run.completed else " so far"
    parts = [f"`{code(run.status)}`", f"${run.cost_usd:.2f}{so_far}", f"{run.turns} turn{'s' if run.turns != 1 else ''}",
             text(run.agent_id)]
    if run.model:
        parts.append(text(run.model))
    if run.pr_number:
        parts.append(f"PR #{run.pr_number}")
    return "Latest run: " + " · ".join(parts)


def issue_detail(issue: IssueStatus, thread_id: int | None, latest_run: ExecutionLog | None = None) -> str:
    lines = [f"**{text(issue.id)}** {text(issue.title)}".rstrip(),
             f"State: `{issue.state.value}` · priority {text(issue.priority)}",
             f"Assignee: {text(issue.assigned_agent or 'nobody')}"
             + (f" (attempt {issue.attempt})" if issue.attempt else "")]
    if issue.depends_on:
        lines.append("Depends on: " + ", ".join(f"#{n}" for n in issue.depends_on))
    if issue.pr_number:
        ci = f" · CI {issue.ci_status}" if issue.ci_status else ""
        review = f" · review {issue.review_state}" if issue.review_state else ""
        lines.append(f"PR #{issue.pr_number}{ci}{review}" + (f" · {link(issue.pr_url)}" if issue.pr_url else ""))
    if issue.gate is not None:
        g = issue.gate
        status = "open" if g.open else f"closed ({g.decision}" + (f" by {text(g.decided_by)})" if g.decided_by else ")")
        lines.append(f"Gate: {status} — {text(g.reason)}"
                     + (f" · {g.reminders_sent} reminder(s)" if g.reminders_sent else ""))
    if issue.escalation is not None:
        lines.append(f"Escalated: {text(issue.escalation.reason or 'no reason given')}")
    if issue.stuck_count:
        lines.append(f"Stuck reports: {issue.stuck_count} ({', '.join(text(a) for a in issue.stuck_agents)})")
    if issue.duration_minutes is not None:
        lines.append(f"Done in {issue.duration_minutes:g} min")
    if latest_run is not None:
        lines.append(run_line(latest_run))
    lines.append(f"Thread: <#{thread_id}>" if thread_id else "Thread: none yet")
    return _cap(lines[1:], lines[0])


def issues_page(listing: Listing[IssueStatus], title: str) -> Page:
    """One page of issues (a ``Listing`` of at most PAGE_SIZE, read a page at a time)."""
    offset, chunk = listing.offset, listing.items
    if not listing.total:
        return Page(f"**{title}**\nNothing here.")
    if not chunk:
        return Page(f"**{title}**\nNo more: the list has {listing.total} now.", previous=0)
    header = f"**{title}** ({offset + 1}–{offset + len(chunk)} of {listing.total})"
    return Page(_cap([issue_line(i) for i in chunk], header),
                previous=max(offset - PAGE_SIZE, 0) if offset > 0 else None,
                next=offset + PAGE_SIZE if listing.has_next else None)


def event_line(rec: RecordedEvent) -> str:
    data = rec.data
    keys = ("AgentId", "PrNumber", "ToolName", "Reason", "Title", "Status", "DecidedBy")
    detail = ", ".join(f"{k[0].lower() + k[1:]}={text(data[k])}" for k in keys if data.get(k) not in (None, "", []))
    when = rec.timestamp.strftime("%Y-%m-%d %H:%M:%S")
    return f"`v{rec.version}` {when} **{rec.wire_name}**" + (f" — {detail}" if detail else "")


def stream_page(stream_id: str, newest_first: Sequence[RecordedEvent], version: int) -> Page:
    """One page of a stream's events, newest first; ``version`` is the stream's current version."""
    if not newest_first:
        return Page(f"No events on `{stream_id}`.")
    top, bottom = newest_first[0].version, newest_first[-1].version
    header = f"**{text(stream_id)}** — events {bottom}–{top} of {version}, newest first"
    return Page(_cap([event_line(r) for r in newest_first], header),
                previous=min(top + PAGE_SIZE, version) if top < version else None,
                next=bottom - 1 if bottom > 1 else None)


def tools_table(stats: Sequence[ToolStat], repo: str | None) -> str:
    header = "**Top tools" + (f" in {repo}**" if repo else "**")
    if not stats:
        return header + "\nNo TOOL_USED events yet."
    lines = [f"{i}. **{text(s.tool_name)}** ({text(s.repo or 'no repo')}) — {s.uses} uses · "
             f"avg {s.avg_duration_ms:.0f} ms · {s.mcp_calls} MCP" if s.avg_duration_ms is not None else
             f"{i}. **{text(s.tool_name)}** ({text(s.repo or 'no repo')}) — {s.uses} uses · {s.mcp_calls} MCP"
             for i, s in enumerate(stats, 1)]
    return _cap(lines, header)


def memory_table(stats: Sequence[MemoryStat]) -> str:
    header = "**Memory recall: hits used in output, by agent**"
    if not stats:
        return header + "\nNo MEMORY_HIT_USED events yet."
    return _cap([f"• **{text(s.agent_id)}** — {s.used_pct:g}% ({s.used_count} of {s.total_hits})" for s in stats],
                header)


def cost_table(by_agent: Sequence[CostStat], by_issue: Sequence[CostStat]) -> str:
    if not by_agent and not by_issue:
        return "**LLM cost**\nNo TOKEN_USAGE events yet."
    total = sum(s.cost_usd for s in by_agent)
    lines = ["__By agent__"] + [f"• **{text(s.key)}** — ${s.cost_usd:.2f} · {s.input_tokens:,} in / "
                                f"{s.output_tokens:,} out · {s.turns} turns" for s in by_agent]
    lines += ["__By issue__"] + [f"• **{text(s.key)}** — ${s.cost_usd:.2f} · {s.turns} turns" for s in by_issue]
    return _cap(lines, f"**LLM cost: ${total:.2f} in all**")


def learnings_list(repo: str, found: RepoLearnings | None) -> str:
    """A repo's learnings by key: ``• **build-system**: Node.js (package.json) — dev-e-1, 2026-12-01``."""
    learnings = found.learnings if found is not None else []
    header = f"**Learnings for {text(repo)}** ({len(learnings)})"
    if not learnings:
        return f"**Learnings for {text(repo)}**\nNone yet."
    return _cap([f"• **{text(item.key)}**: {text(_shortened(item.value))} — "
                 + (f"{text(item.set_by)}, " if item.set_by else "") + item.updated_at.strftime("%Y-%m-%d")
                 for item in learnings], header)


def _shortened(value: str, limit: int = 300) -> str:
    return value if len(value) <= limit else value[:limit - 1] + "…"
