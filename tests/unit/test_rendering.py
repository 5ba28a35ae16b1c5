"""Discord rendering stays within Discord's limits and posts only what teams should read."""

from __future__ import annotations

from datetime import timedelta

from bot.discord.rendering import MESSAGE_LIMIT, THREAD_NAME_LIMIT, render, render_tools, thread_name
from commands.formatting import LIMIT, agents_overview
from eventstore.events import OBSERVABILITY
from eventstore.projections.agent_status import AgentStatus

from .helpers import ISSUE, T0, rec


def test_thread_names_fit_in_100_characters() -> None:
    name = thread_name("acme/app", 7, "x" * 300)
    assert len(name) == THREAD_NAME_LIMIT and name.startswith("acme/app#7 x")
    assert thread_name("acme/app", 7, None) == "acme/app#7"


def test_long_logs_and_reasons_are_trimmed() -> None:
    post = render(rec("CI_FAILED", 0, **ISSUE, prNumber=3, failedChecks=["lint"] * 100, logs="E" * 90_000))
    assert post is not None and len(post.content) <= MESSAGE_LIMIT and "```" in post.content
    gate = render(rec("HUMAN_GATE_TRIGGERED", 0, **ISSUE, reason="r" * 1999), role_mention="<@&1>")
    assert gate is not None and len(gate.content) <= MESSAGE_LIMIT and gate.panel == "gate" and gate.mentions_role


def test_heartbeat_and_analytics_are_never_rendered() -> None:
    assert render(rec("HEARTBEAT", 0, agentId="a")) is None
    for wire_name in OBSERVABILITY:
        fields = {"agentId": "a", "toolName": "t", "memoryId": "m", "usedInOutput": True, **ISSUE}
        assert render(rec(wire_name, 0, **fields)) is None


def test_folded_tool_calls_fit_one_message() -> None:
    calls = [rec("TOOL_USED", 0, **ISSUE, agentId="a", toolName=f"T{i}", targetPreview="p" * 120) for i in range(200)]
    post = render_tools(calls)
    assert len(post.content) <= MESSAGE_LIMIT and post.content.startswith("🔧 200 tool calls")
    assert post.content.endswith("more")


def test_command_answers_fit_one_message() -> None:
    agents = [AgentStatus(id=f"agent-{i:03d}-" + "x" * 60, status="working", last_heartbeat=T0) for i in range(300)]
    text = agents_overview(agents, T0, timedelta(minutes=3))
    assert len(text) <= LIMIT + 40 and text.startswith("**300 agents, 300 online**") and "more" in text


def test_agent_text_cannot_forge_links_lines_or_mentions() -> None:
    forged = "[the diff](https://evil.example/x) looks fine\n✅ Gate **approved** by alice @everyone <@&1>"
    gate = render(rec("HUMAN_GATE_TRIGGERED", repo="o/r", issueNumber=1, reason=forged, prNumber=5,
                      prUrl="https://github.com/o/r/pull/5"), "<@&42>")
    assert gate is not None
    content = gate.content
    assert content.count("\n") == 1 and content.endswith("\nhttps://github.com/o/r/pull/5")  # the link line only
    assert "](" not in content.replace("\\](", "") and "\\[the diff\\]" in content
    assert "@everyone" not in content and "\\<@\u200b&1\\>" in content and content.startswith("🚦 <@&42> ")
    review = render(rec("REVIEW_DISPUTED", repo="o/r", issueNumber=1, reason="`x` *y* _z_ ~w~ ||s||"))
    assert review is not None and review.content.endswith(r"\`x\` \*y\* \_z\_ \~w\~ \|\|s\|\|")
    branch = render(rec("BRANCH_CREATED", repo="o/r", issueNumber=1, branch="a`](x)\nb"))
    assert branch is not None and branch.content == "🌿 Branch `aʼ](x) b` created"
    assert thread_name("o/r", 1, "two\nlines") == "o/r#1 two lines"


def test_command_answers_escape_agent_text_too() -> None:
    from commands.formatting import issue_detail, issue_line
    from eventstore.projections.issue_status import IssueStatus

    forged = IssueStatus(id="o/r#1", repo="o/r", issue_number=1, title="[Approve here](https://evil.example)\n✅ ok",
                         assigned_agent="@everyone")
    line = issue_line(forged)
    assert "\n" not in line and "\\[Approve here\\]" in line and "@everyone" not in line
    assert "](" not in issue_detail(forged, None).replace("\\](", "")


def test_a_merge_says_who_asked_for_it() -> None:
    post = render(rec("MERGED", 0, **ISSUE, prNumber=7, mergeSha="6dcb09b5b578f334", requestedBy="review-e"))
    assert post is not None and post.content == "🎉 PR #7 merged (`6dcb09b5b578`) at the request of **review-e**"
    plain = render(rec("MERGED", 0, **ISSUE, prNumber=7))
    assert plain is not None and plain.content == "🎉 PR #7 merged"


def test_a_reminder_the_gate_ladder_escalates_mentions_the_escalation_role() -> None:
    reminder = rec("HUMAN_GATE_REMINDER", 0, **ISSUE, prNumber=88, attempt=150, reminder=5)
    plain = render(reminder, role_mention="<@&1>")
    assert plain is not None and plain.content == "⏰ <@&1> Gate on PR #88 still waiting after 150 min"
    assert plain.mentions_role and not plain.mentions_escalation
    escalated = render(reminder, role_mention="<@&1>", escalation_mention="<@&2>")
    assert escalated is not None and escalated.mentions_role and escalated.mentions_escalation
    assert escalated.content == "⏰ <@&1> Gate on PR #88 still waiting after 150 min — escalated to <@&2>"
