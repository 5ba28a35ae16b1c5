"""The daily digest as a Discord message (posted at DIGEST_TIME, and ``/digest``). Pure."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone

from eventstore import events as ev

from .markdown import text

LIMIT = 1900  # under Discord's 2,000 characters


def digest_text(digest: ev.DigestCompiled, title: str = "Daily digest") -> str:
    lines = [f"📰 **{title}** — {_when(digest.period_start)} → {_when(digest.period_end)} UTC",
             _listed("🏁 Done", digest.done_count, digest.done),
             _listed("🆘 Escalated", digest.escalated_count, digest.escalated),
             f"🧱 Stuck reports: **{digest.stuck_reports}**",
             f"🎉 Merged: **{digest.merged_count}**" + _median("median time to merge", digest.median_merge_minutes)]
    decided = digest.gates_approved + digest.gates_rejected
    lines.append(f"🚦 Gates decided: **{decided}**"
                 + (f" ({digest.gates_approved} approved, {digest.gates_rejected} rejected)" if decided else "")
                 + _median("median wait", digest.median_gate_wait_minutes))
    lines.append(f"💸 LLM cost: **${digest.cost_usd:,.2f}**")
    if digest.cost_by_agent:
        lines.append("   by agent: " + _costs(digest.cost_by_agent, "(no agent)"))
    if digest.cost_by_repo:
        lines.append("   by repo: " + _costs(digest.cost_by_repo, "(no repo)"))
    out = "\n".join(lines)
    return out if len(out) <= LIMIT else out[: LIMIT - 1] + "…"


def _when(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M")


def _listed(label: str, count: int, names: Sequence[str]) -> str:
    line = f"{label}: **{count}**"
    if names:
        more = count - len(names)
        line += " — " + ", ".join(text(n) for n in names) + (f" and {more} more" if more > 0 else "")
    return line


def _median(label: str, minutes: float | None) -> str:
    return f" · {label} {duration(minutes)}" if minutes is not None else ""


def duration(minutes: float) -> str:
    """``45 min``, ``2 h 10 min``, ``3 d 4 h``."""
    whole = int(round(minutes))
    if whole < 60:
        return f"{whole} min"
    hours, mins = divmod(whole, 60)
    if hours < 48:
        return f"{hours} h {mins} min" if mins else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def _costs(shares: Sequence[ev.CostShare], nobody: str) -> str:
    return " · ".join(f"{text(s.key) if s.key else nobody} ${s.cost_usd:,.2f}" for s in shares)
