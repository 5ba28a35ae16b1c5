"""The commands people type: ``emit`` and ``status`` against a running service (the real CLI
function over real HTTP, in a thread beside the service's loop), ``preview`` offline."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import asyncpg
import pytest

from bot.cli import main
from bot.credentials import Credentials
from bot.runtime import Service
from bot.settings import Settings

from ..conftest import OPERATOR_TOKEN, TEST_CREDENTIALS
from .test_startup import env_with, free_port

AGENT_TOKEN = "agent-dev-e-1-0123456789abcdef"


@pytest.fixture
async def service(pg_server_dsn: str, db: asyncpg.Pool) -> AsyncIterator[Service]:
    async with Service(Settings(host="127.0.0.1", port=0, credentials=TEST_CREDENTIALS), dsn=pg_server_dsn) as running:
        yield running


def url_of(service: Service) -> str:
    return f"http://127.0.0.1:{service.port}"


async def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = await asyncio.to_thread(main, list(argv))
    out, err = capsys.readouterr()
    return code, out, err


async def get(url: str) -> Any:
    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        return await resp.json()


async def test_emit_posts_the_event_with_json_values_and_prints_the_answer(
        service: Service, capsys: pytest.CaptureFixture[str]) -> None:
    url = url_of(service)
    code, out, err = await cli(capsys, "emit", "ISSUE_APPROVED", "repo=acme/app", "issueNumber=7", "title=Add auth",
                               "priority=high", "dependsOn=[3]", "milestone=\"2\"", "--url", url)
    assert code == 0 and err == ""
    answer = json.loads(out)
    assert answer["streamId"] == "acme/app#7" and answer["version"] == 1 and answer["duplicate"] is False
    issue = await get(f"{url}/api/issues/acme/app/7")
    assert (issue["title"], issue["priority"], issue["dependsOn"], issue["milestone"]) == ("Add auth", "high", [3], "2")


async def test_emit_says_what_the_service_refused_and_exits_1(service: Service,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    url = url_of(service)
    code, out, err = await cli(capsys, "emit", "ISSUE_APPROVED", "repo=acme/app", "--url", url)
    assert code == 1 and out == ""
    assert err.startswith("conductor-e: 422 invalid_fields: ") and "issueNumber" in err and err.count("\n") == 1
    code, _, err = await cli(capsys, "emit", "HUMAN_GATE_APPROVED", "repo=acme/app", "issueNumber=7", "--url", url)
    assert code == 1 and "401 operator_required" in err  # a decision needs an operator's token
    assert await get(f"{url}/api/issues?repo=acme/app") == []  # nothing stored
    code, _, err = await cli(capsys, "emit", "HEARTBEAT", "agentId", "--url", url)
    assert code == 2 and "'agentId' is not key=value" in err
    code, _, err = await cli(capsys, "emit", "HEARTBEAT", "agentId=a", "--url", f"http://127.0.0.1:{free_port()}")
    assert code == 1 and "cannot reach http://127.0.0.1:" in err


async def test_emit_sends_the_token_given_or_from_the_environment(
        pg_server_dsn: str, db: asyncpg.Pool, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    credentials = Credentials.parse(f"dev-e-1={AGENT_TOKEN}", f"carol={OPERATOR_TOKEN}")
    settings = Settings(host="127.0.0.1", port=0, credentials=credentials)
    async with Service(settings, dsn=pg_server_dsn) as tokens_mode:
        url = url_of(tokens_mode)
        heartbeat = ["emit", "HEARTBEAT", "agentId=dev-e-1/abc12", "status=idle", "--url", url]
        monkeypatch.delenv("CONDUCTOR_E_TOKEN", raising=False)
        code, _, err = await cli(capsys, *heartbeat)
        assert code == 1 and "401 missing_credential" in err
        monkeypatch.setenv("CONDUCTOR_E_TOKEN", AGENT_TOKEN)
        assert (await cli(capsys, *heartbeat))[0] == 0
        code, out, _ = await cli(capsys, "emit", "HUMAN_GATE_APPROVED", "repo=acme/app", "issueNumber=7",
                                 "reason=reviewed", "--url", url, "--token", OPERATOR_TOKEN)
        assert code == 0 and json.loads(out)["type"] == "HUMAN_GATE_APPROVED"
    assert AGENT_TOKEN not in out and OPERATOR_TOKEN not in out


async def test_status_prints_agents_queue_and_open_gates(service: Service, capsys: pytest.CaptureFixture[str]) -> None:
    url = url_of(service)
    for argv in (["HEARTBEAT", "agentId=dev-e-1", "status=working", "activeProvider=anthropic"],
                 ["ISSUE_APPROVED", "repo=acme/app", "issueNumber=1", "title=first", "priority=normal"],
                 ["ISSUE_APPROVED", "repo=acme/app", "issueNumber=2", "title=urgent\x1b[2J\x1b[31m red", "priority=high"],
                 ["ISSUE_APPROVED", "repo=acme/app", "issueNumber=3", "title=gated"],
                 ["ISSUE_ASSIGNED", "repo=acme/app", "issueNumber=3", "agentId=dev-e-1"],
                 ["HUMAN_GATE_TRIGGERED", "repo=acme/app", "issueNumber=3", "prNumber=88", "reason=touches auth"]):
        assert (await cli(capsys, "emit", *argv, "--url", url))[0] == 0
    code, out, err = await cli(capsys, "status", "--url", url)
    assert code == 0 and err == ""
    agents, queue, gates = out.strip().split("\n\n")
    assert agents.splitlines()[0] == "Agents: 1, 1 online"
    assert agents.splitlines()[1].split() == ["AGENT", "ONLINE", "STATUS", "WORKING", "ON", "PROVIDER", "LAST",
                                              "HEARTBEAT", "(UTC)"]
    assert agents.splitlines()[2].split()[:5] == ["dev-e-1", "yes", "working", "acme/app#3", "anthropic"]
    assert queue.splitlines()[0] == "Queue: 2"
    rows = [line.split()[:3] for line in queue.splitlines()[2:]]
    assert rows == [["1", "acme/app#2", "high"], ["2", "acme/app#1", "normal"]]  # the order work is handed out
    assert "\x1b" not in out and "urgent [2J [31m red" in queue  # no escape sequence reaches the terminal
    assert gates.splitlines()[0] == "Open gates: 1"
    gate = gates.splitlines()[2].split()
    assert gate[:4] == ["acme/app#3", "#88", "touches", "auth"] and gate[-1] == "0"  # no reminder yet


async def test_preview_renders_as_the_bot_would_without_a_service(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = await cli(capsys, "preview", "HUMAN_GATE_TRIGGERED", "repo=acme/app", "issueNumber=7",
                             "prNumber=88", "reason=touches *auth*", "prUrl=https://github.com/acme/app/pull/88")
    assert code == 0
    assert out == ("Posted in the thread of acme/app#7:\n\n"
                   "🚦 @gate-role **Human gate** on PR #88: touches \\*auth\\*\n"
                   "https://github.com/acme/app/pull/88\n[Approve] [Reject]\n")
    code, out, _ = await cli(capsys, "preview", "HUMAN_GATE_APPROVED", "repo=acme/app", "issueNumber=7",
                             "decidedBy=carol", "reason=ok")
    assert code == 0 and out.endswith("✅ Gate **approved** by carol: ok\n")
    assert (await cli(capsys, "preview", "HEARTBEAT", "agentId=dev-e-1"))[1] == "HEARTBEAT is not posted in Discord.\n"
    code, out, err = await cli(capsys, "preview", "ISSUE_APPROVED", "repo=acme/app")
    assert code == 1 and out == "" and err.startswith("conductor-e: invalid_fields: ")


async def test_preview_as_shipped_needs_no_token_database_or_service() -> None:
    env = env_with(DATABASE_URL=f"postgresql://nobody@127.0.0.1:{free_port()}/none")  # would fail if used
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "preview", "ISSUE_DONE", "repo=acme/app", "issueNumber=7",
        "durationMinutes=72", env={**env, "PATH": os.environ.get("PATH", "")},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0 and err == b""
    assert out.decode() == "Posted in the thread of acme/app#7:\n\n🏁 **Done** in 1 h 12 min\n"
