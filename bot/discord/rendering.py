"""What each event looks like in Discord. Pure: no discord.py, no I/O.

Messages stay within Discord's limits (2,000 characters a message, 100 for a thread name);
long fields such as CI logs are trimmed with a marker rather than split.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from commands.digest_text import digest_text
from commands.markdown import code, link, text
from eventstore import events as ev
from eventstore.store import RecordedEvent

MESSAGE_LIMIT = 2000
THREAD_NAME_LIMIT = 100
LOG_LIMIT = 900


@dataclass(frozen=True)
class Post:
    content: str
    panel: str | None = None  # "gate" (approve/reject) or "escalation" (requeue/close)
    mentions_role: bool = False
    mentions_escalation: bool = False  # the escalation role (the gate ladder), beside the gate role


def trim(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def thread_name(repo: str, number: int, title: str | None) -> str:
    base = f"{repo}#{number}"
    title = " ".join(title.split()) if title else None  # a thread name is plain text: one line is enough
    return trim(f"{base} {title}".strip() if title else base, THREAD_NAME_LIMIT)


def _pr(number: int | None) -> str:
    return f"PR #{number}" if number else "the PR"


def _duration(minutes: float | None) -> str:
    if minutes is None:
        return ""
    hours, mins = divmod(int(round(minutes)), 60)
    return f" in {hours} h {mins} min" if hours else f" in {mins} min"


def _with_reason(line: str, reason: str | None) -> str:
    return f"{line}: {text(reason)}" if reason else line


def render(rec: RecordedEvent, role_mention: str | None = None, pr_url: str | None = None,
           escalation_mention: str | None = None) -> Post | None:
    """The message for ``rec`` in its issue's thread, or None if it is not posted.

    ``pr_url`` is the issue's PR link, for events that name the PR only by number;
    ``escalation_mention``, the escalation role for a reminder the gate ladder escalates."""
    post = _render(rec, role_mention, pr_url, escalation_mention)
    if post is None or len(post.content) <= MESSAGE_LIMIT:
        return post
    return replace(post, content=trim(post.content, MESSAGE_LIMIT))


def _render(rec: RecordedEvent, role_mention: str | None, pr_url: str | None,
            escalation_mention: str | None) -> Post | None:
    e = rec.event
    ping = f"{role_mention} " if role_mention else ""
    match e:
        case ev.IssueApproved():
            extras = [f"priority {e.priority.value}"]
            if e.depends_on:
                extras.append("depends on " + ", ".join(f"#{n}" for n in e.depends_on))
            if e.milestone:
                extras.append(f"milestone {text(e.milestone)}")
            line = f"📋 **Approved** {text(e.repo)}#{e.issue_number}" + (f" — {text(e.title)}" if e.title else "")
            return Post(f"{line} · {' · '.join(extras)}")
        case ev.IssueAssigned():
            attempt = f" (attempt {e.attempt})" if e.attempt else ""
            return Post(f"👤 Assigned to **{text(e.agent_id)}**{attempt}")
        case ev.IssueUnassigned():
            return Post(_with_reason(f"↩️ **{text(e.agent_id)}** unassigned", e.reason))
        case ev.WorkStarted():
            return Post(f"🛠️ **{text(e.agent_id)}** started work" + (f" on `{code(e.branch)}`" if e.branch else ""))
        case ev.BranchCreated():
            return Post(f"🌿 Branch `{code(e.branch)}` created")
        case ev.PrCreated():
            who = f" by **{text(e.agent_id)}**" if e.agent_id else ""
            return Post(f"🔀 {_pr(e.pr_number)} opened{who}" + (f": {link(e.pr_url)}" if e.pr_url else ""))
        case ev.CiPassed():
            return Post(f"✅ CI passed on {_pr(e.pr_number)}")
        case ev.CiFailed():
            checks = f": {', '.join(text(c) for c in e.failed_checks)}" if e.failed_checks else ""
            line = f"❌ CI failed on {_pr(e.pr_number)}{checks}"
            if e.logs:  # in a code block, where nothing is formatted; no fence can end it early
                logs = e.logs if len(e.logs) <= LOG_LIMIT else "…" + e.logs[-(LOG_LIMIT - 1):]
                line += "\n```\n" + logs.replace("`", "ʼ") + "\n```"
            return Post(line)
        case ev.ReviewPassed():
            return Post(f"👍 Review passed on {_pr(e.pr_number)}")
        case ev.ReviewDisputed():
            it = f" (iteration {e.attempt})" if e.attempt else ""
            return Post(_with_reason(f"🗣️ Review disputed on {_pr(e.pr_number)}{it}", e.reason))
        case ev.HumanGateTriggered():
            url = e.pr_url or pr_url
            pr_link = f"\n{link(url)}" if url else ""
            return Post(f"🚦 {ping}**Human gate** on {_pr(e.pr_number)}: {text(e.reason)}{pr_link}", panel="gate",
                        mentions_role=bool(role_mention))
        case ev.HumanGateReminder():
            waited = f" after {e.attempt} min" if e.attempt is not None else ""
            escalated = f" — escalated to {escalation_mention}" if escalation_mention else ""
            return Post(f"⏰ {ping}Gate on {_pr(e.pr_number)} still waiting{waited}{escalated}",
                        mentions_role=bool(role_mention), mentions_escalation=bool(escalation_mention))
        case ev.HumanGateApproved():
            return Post(_with_reason(f"✅ Gate **approved** by {text(e.decided_by)}", e.reason))
        case ev.HumanGateRejected():
            return Post(_with_reason(f"⛔ Gate **rejected** by {text(e.decided_by)}", e.reason))
        case ev.Merged():
            sha = f" (`{code(e.merge_sha[:12])}`)" if e.merge_sha else ""
            asked = f" at the request of **{text(e.requested_by)}**" if e.requested_by else ""
            return Post(f"🎉 {_pr(e.pr_number)} merged{sha}{asked}")
        case ev.DeployedStaging():
            return Post(f"🚀 Deployed to {text(e.reason or 'staging')}")
        case ev.SmokePassed():
            return Post("🧪 Smoke tests passed")
        case ev.SmokeFailed():
            attempt = f" (attempt {e.attempt}/{e.max_retries})" if e.attempt else ""
            return Post(_with_reason(f"🔥 Smoke tests failed{attempt}", e.reason))
        case ev.DeployedProduction():
            return Post(f"🚀 Deployed to {text(e.reason or 'production')}")
        case ev.Verified():
            return Post("🔎 Production verified")
        case ev.IssueDone():
            return Post(f"🏁 **Done**{_duration(e.duration_minutes)}")
        case ev.Escalated():
            attempts = f" (attempts: {e.attempts})" if e.attempts else ""
            return Post(_with_reason(f"🆘 {ping}**Escalated**{attempts}", e.reason), panel="escalation",
                        mentions_role=bool(role_mention))
        case ev.AgentStuck():
            return Post(_with_reason(f"🧱 **{text(e.agent_id)}** is stuck", e.reason))
        case ev.IssueRequeued():
            return Post(_with_reason(f"🔁 Put back in the queue by {text(e.decided_by)}", e.reason))
        case ev.IssueClosed():
            return Post(_with_reason(f"🛑 Closed by {text(e.decided_by)}", e.reason))
        case ev.DigestCompiled():
            return Post(digest_text(e))
        case ev.MilestoneComplete():
            return Post(f"🏆 Milestone **{text(e.milestone)}** of {text(e.repo)} complete ({e.issue_count} issues)")
    return None


def render_tools(recs: Sequence[RecordedEvent]) -> Post:
    """Several TOOL_USED folded into one message, so a busy agent cannot flood a thread."""
    lines = []
    for rec in recs:
        e = rec.event
        if not isinstance(e, ev.ToolUsed):
            continue
        target = f" `{code(e.target_preview)}`" if e.target_preview else ""
        took = f" {e.duration_ms} ms" if e.duration_ms is not None else ""
        mcp = " (MCP)" if e.is_mcp else ""
        lines.append(f"• **{text(e.agent_id)}** {text(e.tool_name)}{mcp}{target}{took}")
    header = f"🔧 {len(lines)} tool call{'s' if len(lines) != 1 else ''}"
    body = header + "\n" + "\n".join(lines)
    if len(body) > MESSAGE_LIMIT:
        kept: list[str] = []
        budget = MESSAGE_LIMIT - len(header) - 40
        for line in lines:
            if len(line) + 1 > budget:
                break
            kept.append(line)
            budget -= len(line) + 1
        body = header + "\n" + "\n".join(kept) + f"\n… and {len(lines) - len(kept)} more"
    return Post(body)
