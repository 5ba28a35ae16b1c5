"""The commands people type: ``emit`` an event to a running service, see its ``status``, and
``preview`` how an event would look in Discord (offline: the bot's own rendering, no token).

Exit codes: 0 done; 1 the service (or, for preview, the event's own rules) refused, or there is
no service to ask; 2 the command line itself is wrong.
"""

from __future__ import annotations

import os
import sys
import unicodedata
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, TextIO

import orjson

from eventstore import events as ev
from eventstore.authorization import Caller, NotPermitted, Role
from eventstore.naming import spellings
from eventstore.store import RecordedEvent
from eventstore.streams import parse_issue_stream_id
from eventstore.submission import InvalidSubmission, parse_submission

from .api_client import ApiClient, Refused, Unreachable

OK, REFUSED, USAGE = 0, 1, 2
CELL_LIMIT = 48
# Where an open gate can be: every state but done and closed, whose events close the gate.
GATE_STATES = ("queued", "assigned", "in_progress", "in_review", "deploying", "failed")
PAGE = 1000  # the lists' largest page


class UsageError(ValueError):
    pass


def default_url(env: Mapping[str, str] = os.environ) -> str:
    """``CONDUCTOR_E_URL``, else the service on this machine at ``PORT`` (8080)."""
    if env.get("CONDUCTOR_E_URL", "").strip():
        return env["CONDUCTOR_E_URL"].strip()
    port = env.get("PORT", "").strip()
    return f"http://127.0.0.1:{port if port.isdigit() and 0 < int(port) <= 65535 else 8080}"


def event_body(event_type: str, pairs: Sequence[str]) -> dict[str, Any]:
    """``TYPE key=value …`` as the JSON body: a value is JSON when it parses as JSON (``42``,
    ``true``, ``[1,2]``, ``"42"``), else the text as written."""
    body: dict[str, Any] = {"type": event_type}
    for pair in pairs:
        key, equals, raw = pair.partition("=")
        key = key.strip()
        if not equals or not key:
            raise UsageError(f"{pair!r} is not key=value")
        if key.lower() == "type" or key in body:
            raise UsageError(f"{key!r} is given twice (the type is the first argument)")
        try:
            body[key] = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body[key] = raw
    return body


# -- emit -------------------------------------------------------------------------------------------

def emit(client: ApiClient, body: dict[str, Any]) -> int:
    out = sys.stdout
    try:
        answer = client.post("/api/events", body)
    except Refused as exc:
        print(f"conductor-e: {exc.line()}", file=sys.stderr)
        return REFUSED
    except Unreachable as exc:
        print(f"conductor-e: {exc}", file=sys.stderr)
        return REFUSED
    out.write(orjson.dumps(answer.body, option=orjson.OPT_INDENT_2).decode() + "\n")
    return OK


# -- status -----------------------------------------------------------------------------------------

def status(client: ApiClient) -> int:
    """Agents, the queue and the open gates, as tables."""
    out = sys.stdout
    try:
        agents = client.get(f"/api/agents?limit={PAGE}")
        queue = client.get(f"/api/queue?limit={PAGE}")
        gates = [issue for state in GATE_STATES for issue in client.get(f"/api/issues?state={state}&limit={PAGE}").body
                 if (issue.get("gate") or {}).get("open")]
    except (Refused, Unreachable) as exc:
        print(f"conductor-e: {exc.line() if isinstance(exc, Refused) else exc}", file=sys.stderr)
        return REFUSED
    online = sum(1 for a in agents.body if a.get("isOnline"))
    _section(out, f"Agents: {_count(agents.body, agents.total)}, {online} online", agents.body, [
        ("AGENT", lambda a: a.get("id")),
        ("ONLINE", lambda a: "yes" if a.get("isOnline") else "no"),
        ("STATUS", lambda a: a.get("status")),
        ("WORKING ON", lambda a: a.get("assignment") or _issue(a.get("currentRepo"), a.get("currentIssue"))),
        ("PROVIDER", lambda a: a.get("activeProvider")),
        ("LAST HEARTBEAT (UTC)", lambda a: _time(a.get("lastHeartbeat"))),
    ])
    _section(out, f"Queue: {_count(queue.body, queue.total)}", queue.body, [
        ("#", None),
        ("ISSUE", lambda i: i.get("id")),
        ("PRIORITY", lambda i: i.get("priority")),
        ("TITLE", lambda i: i.get("title")),
        ("APPROVED (UTC)", lambda i: _time(i.get("approvedAt"))),
    ])
    _section(out, f"Open gates: {len(gates)}", gates, [
        ("ISSUE", lambda i: i.get("id")),
        ("PR", lambda i: f"#{i['gate']['prNumber']}" if i["gate"].get("prNumber") else ""),
        ("REASON", lambda i: i["gate"].get("reason")),
        ("OPEN SINCE (UTC)", lambda i: _time(i["gate"].get("since"))),
        ("REMINDERS", lambda i: i["gate"].get("remindersSent")),
    ])
    return OK


Column = tuple[str, Callable[[dict[str, Any]], Any] | None]  # None: the row's number


def _section(out: TextIO, title: str, rows: list[dict[str, Any]], columns: list[Column]) -> None:
    out.write(f"{title}\n")
    if rows:
        out.write(table([name for name, _ in columns],
                        [[str(n) if cell is None else _cell(cell(row)) for _, cell in columns]
                         for n, row in enumerate(rows, 1)]))
    out.write("\n")


def table(header: list[str], rows: list[list[str]]) -> str:
    """Columns padded to their widest cell, two spaces apart."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in [header, *rows]]
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    """Agent-supplied text, safe for a terminal: no control characters (no escape sequences that
    move the cursor or recolour the screen), one line, and cut to ``CELL_LIMIT``."""
    text = "" if value is None else str(value)
    text = "".join(" " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in text)
    text = " ".join(text.split())
    return text if len(text) <= CELL_LIMIT else text[: CELL_LIMIT - 1] + "…"


def _count(items: list[Any], total: int | None) -> str:
    return f"{total} (the first {len(items)} shown)" if total is not None and total > len(items) else str(len(items))


def _issue(repo: str | None, number: int | None) -> str:
    return f"{repo}#{number}" if repo and number else ""


def _time(value: str | None) -> str:
    return value[:19].replace("T", " ") if value else ""


# -- preview ----------------------------------------------------------------------------------------

def preview(body: dict[str, Any]) -> int:
    """The message the bot would post for this event, from the bot's own rendering."""
    from .discord.rendering import render, render_tools  # the bot's module; no Discord connection

    out = sys.stdout

    try:
        pending = parse_submission(body, caller=_decider(body))
    except InvalidSubmission as exc:  # its message names the fields, as the API's answer does
        print(f"conductor-e: {exc.code}: {exc}", file=sys.stderr)
        return REFUSED
    except NotPermitted as exc:  # not for an operator, so not expected; said plainly all the same
        print(f"conductor-e: {exc.code}: {exc.message}", file=sys.stderr)
        return REFUSED
    event = pending.event
    rec = RecordedEvent(1, uuid.uuid4(), pending.stream.id, 1, event.alias, datetime.now(timezone.utc),
                        event.stored_data(), event)
    in_thread = parse_issue_stream_id(rec.stream_id) is not None  # agent streams have no thread
    post = render_tools([rec]) if isinstance(event, ev.ToolUsed) else render(rec, role_mention="@gate-role")
    if post is None:
        out.write(f"{event.wire_name} is not posted in Discord.\n")
        return OK
    if isinstance(event, ev.MilestoneComplete):
        out.write("Posted in the channel itself:\n\n")
    elif not in_thread:
        out.write(f"{event.wire_name} on {rec.stream_id} is not posted in Discord (it names no issue).\n")
        return OK
    elif isinstance(event, ev.ToolUsed):
        out.write(f"Posted in the thread of {rec.stream_id} only with DISCORD_TOOL_EVENTS=true; the calls of "
                  "DISCORD_TOOL_FOLD_SECONDS are folded into one message:\n\n")
    else:
        out.write(f"Posted in the thread of {rec.stream_id}:\n\n")
    out.write(post.content + "\n")
    if post.panel is not None:
        out.write(_buttons(post.panel) + "\n")
    return OK


def _decider(body: dict[str, Any]) -> Caller:
    """A decision is previewed as an operator's, named by its ``decidedBy`` (else "you")."""
    name = next((body[k] for k in spellings("decided_by") if isinstance(body.get(k), str) and body[k]), "you")
    return Caller(Role.OPERATOR, name)


def _buttons(panel: str) -> str:
    from commands.panels import _BUTTONS  # the labels the bot puts on the message

    return " ".join(f"[{label}]" for label, _ in _BUTTONS[panel].values())
