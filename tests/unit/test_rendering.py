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
