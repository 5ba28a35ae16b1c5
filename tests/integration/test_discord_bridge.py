"""The Discord bridge with the real discord.py client against the fake Discord."""

from __future__ import annotations

import asyncpg

from bot.discord.status_card import CARD_MARK
from tests.fake_discord import FakeDiscord

from ..conftest import FakeClock
from .discord_harness import running_rig, thread_messages

REPO = "acme/app"
ISSUE = {"repo": REPO, "issueNumber": 7}



async def test_one_thread_per_issue_with_lifecycle_in_order(
        fake: FakeDiscord, db: asyncpg.Pool, pg_server_dsn: str, clock: FakeClock) -> None:
    async with running_rig(fake, pg_server_dsn, clock) as rig:
        await rig.post({"type": "ISSUE_APPROVED", **ISSUE, "title": "Add health check", "priority": "high"})
        await rig.post({"type": "HEARTBEAT", "agentId": "dev-e-1", "status": "working"})
        await rig.post({"type": "ISSUE_ASSIGNED", **ISSUE, "agentId": "dev-e-1"})
        await rig.post({"type": "TOOL_USED", **ISSUE, "agentId": "dev-e-1", "toolName": "Bash"})
        await rig.post({"type": "PR_CREATED", **ISSUE, "prNumber": 88, "prUrl": "https://github.com/acme/app/pull/88"})
        await rig.post({"type": "CI_FAILED", **ISSUE, "prNumber": 88, "failedChecks": ["lint"], "logs": "E" * 5000})
        await rig.post({"type": "ISSUE_APPROVED", "repo": REPO, "issueNumber": 8, "title": "Other"})
        await fake.wait_for(lambda: len(thread_messages(fake, f"{REPO}#7")) == 4 and
                            len(thread_messages(fake, f"{REPO}#8")) == 1, what="4 + 1 messages")
        messages = thread_messages(fake, f"{REPO}#7")
        assert messages[0].startswith("📋 **Approved** acme/app#7 — Add health check")
        assert "dev-e-1" in messages[1] and "PR #88" in messages[2] and "pull/88" in messages[2]
        assert "lint" in messages[3] and len(messages[3]) <= 2000
        names = sorted(t["name"] for t in fake.threads.values())
        assert names == ["acme/app#7 Add health check", "acme/app#8 Other"]
        assert all(t["parent_id"] == fake.channel_id for t in fake.threads.values())
        assert not any("HEARTBEAT" in m or "Bash" in m for m in messages)
        rows = await db.fetch("SELECT stream_id FROM ce_discord_threads ORDER BY stream_id")
        assert [r["stream_id"] for r in rows] == [f"{REPO}#7", f"{REPO}#8"]


async def test_tool_events_not_posted_without_the_flag(fake: FakeDiscord, db: asyncpg.Pool, pg_server_dsn: str,
                                                      clock: FakeClock) -> None:
    async with running_rig(fake, pg_server_dsn, clock) as rig:
        await rig.post({"type": "ISSUE_APPROVED", **ISSUE})
        for i in range(5):
            await rig.post({"type": "TOOL_USED", **ISSUE, "agentId": "dev-e-1", "toolName": f"Tool{i}"})
        await rig.post({"type": "MEMORY_READ", **ISSUE, "agentId": "dev-e-1", "query": "q"})
        await rig.post({"type": "TOKEN_USAGE", **ISSUE, "agentId": "dev-e-1", "costUsd": 0.1})
        await rig.post({"type": "CI_PASSED", **ISSUE})
        await fake.wait_for(lambda: len(thread_messages(fake, f"{REPO}#7")) == 2)
        assert not any("Tool" in m for m in thread_messages(fake, f"{REPO}#7"))


async def test_tool_events_folded_with_the_flag(fake: FakeDiscord, db: asyncpg.Pool, pg_server_dsn: str,
                                                clock: FakeClock) -> None:
    async with running_rig(fake, pg_server_dsn, clock, discord_tool_events=True) as rig:
        await rig.post({"type": "ISSUE_APPROVED", **ISSUE})
        for i in range(30):
            await rig.post({"type": "TOOL_USED", **ISSUE, "agentId": "dev-e-1", "toolName": f"Tool{i}",
                            "targetPreview": "src/app.py", "durationMs": i})
        await rig.post({"type": "CI_PASSED", **ISSUE})
        await fake.wait_for(lambda: any(m.startswith("✅ CI passed") for m in thread_messages(fake, f"{REPO}#7")))
        messages = thread_messages(fake, f"{REPO}#7")
        tool_messages = [m for m in messages if m.startswith("🔧")]
        assert 1 <= len(tool_messages) <= 3  # folded, not 30
        listed = [line for m in tool_messages for line in m.splitlines()[1:]]
        assert [line.split()[2] for line in listed] == [f"Tool{i}" for i in range(30)]
        assert messages[-1].startswith("✅ CI passed")  # after the tool calls that preceded it


async def test_rate_limits_and_an_outage_lose_nothing(fake: FakeDiscord, db: asyncpg.Pool, pg_server_dsn: str,
                                                      clock: FakeClock) -> None:
    async with running_rig(fake, pg_server_dsn, clock) as rig:
        fake.fail_next(3, status=429, retry_after=0.05)
        await rig.post({"type": "ISSUE_APPROVED", **ISSUE, "title": "t"})
        await fake.wait_for(lambda: len(thread_messages(fake, f"{REPO}#7")) == 1)
        fake.set_outage(True)
        for n in range(1, 4):
            await rig.post({"type": "REVIEW_DISPUTED", **ISSUE, "attempt": n})  # appends never wait for Discord
        await fake.wait_for(lambda: sum(f.status == 503 for f in fake.failures) >= 1, what="a 503")
        fake.set_outage(False)
        await fake.wait_for(lambda: len(thread_messages(fake, f"{REPO}#7")) == 4, timeout=15)
        messages = thread_messages(fake, f"{REPO}#7")
        assert [m.split("(iteration ")[1][0] for m in messages[1:]] == ["1", "2", "3"]
        assert sum(f.status == 429 for f in fake.failures) == 3


async def test_restart_mid_stream_posts_everything_once(fake: FakeDiscord, db: asyncpg.Pool, pg_server_dsn: str,
                                                        clock: FakeClock) -> None:
    async with running_rig(fake, pg_server_dsn, clock) as rig:
        await rig.post({"type": "ISSUE_APPROVED", **ISSUE, "title": "t"})
        for n in range(1, 40):
            await rig.post({"type": "REVIEW_DISPUTED", **ISSUE, "attempt": n})
        # stop while delivery is (most likely) still under way
    delivered_before = len(thread_messages(fake, f"{REPO}#7"))
    async with running_rig(fake, pg_server_dsn, clock) as rig:
        await rig.post({"type": "CI_PASSED", **ISSUE})
        await fake.wait_for(lambda: len(thread_messages(fake, f"{REPO}#7")) == 41, timeout=15)
    messages = thread_messages(fake, f"{REPO}#7")
    assert len(fake.threads) == 1
    assert [m.split("(iteration ")[1].split(")")[0] for m in messages[1:40]] == [str(n) for n in range(1, 40)]
    assert messages[-1].startswith("✅ CI passed")
    assert delivered_before <= 41


async def test_archived_thread_is_reopened(fake: FakeDiscord, db: asyncpg.Pool, pg_server_dsn: str,
                                           clock: FakeClock) -> None:
    async with running_rig(fake, pg_server_dsn, clock) as rig:
        await rig.post({"type": "ISSUE_APPROVED", **ISSUE, "title": "t"})
        await fake.wait_for(lambda: len(thread_messages(fake, f"{REPO}#7")) == 1)
        [thread] = fake.threads.values()
        await fake.archive_thread(thread["id"])
    async with running_rig(fake, pg_server_dsn, clock) as rig:  # restarted: the cache knows nothing
        await rig.post({"type": "CI_PASSED", **ISSUE})
        await fake.wait_for(lambda: len(thread_messages(fake, f"{REPO}#7")) == 2)
        assert len(fake.threads) == 1
        assert fake.threads[thread["id"]]["thread_metadata"]["archived"] is False
        # the bot unarchived it itself (the fake, like Discord, would also reopen it on a post)
        unarchive = [r for r in fake.requests_to("PATCH", f"/channels/{thread['id']}") if r.json == {"archived": False}]
        assert len(unarchive) == 1


async def test_agent_stuck_posts_into_the_issue_thread(fake: FakeDiscord, db: asyncpg.Pool, pg_server_dsn: str,
                                                       clock: FakeClock) -> None:
    async with running_rig(fake, pg_server_dsn, clock) as rig:
        await rig.post({"type": "ISSUE_APPROVED", **ISSUE, "title": "t"})
        async with rig.http.get(f"{rig.url}/api/assignments/next?agentId=dev-e-1") as resp:
            assert resp.status == 200
        await rig.post({"type": "AGENT_STUCK", "agentId": "dev-e-1", "reason": "no progress"})  # no issue named
        await fake.wait_for(lambda: any("stuck" in m for m in thread_messages(fake, f"{REPO}#7")))
        await rig.post({"type": "AGENT_STUCK", **ISSUE, "agentId": "dev-e-2", "reason": "sla"})
        await fake.wait_for(lambda: any("Escalated" in m for m in thread_messages(fake, f"{REPO}#7")))


async def test_milestone_complete_is_announced_in_the_channel_once(
        fake: FakeDiscord, db: asyncpg.Pool, pg_server_dsn: str, clock: FakeClock) -> None:
    def announcements() -> list[str]:
        return [m["content"] for m in fake.messages_in(fake.channel_id) if m["content"].startswith("🏆")]

    async with running_rig(fake, pg_server_dsn, clock) as rig:
        for n in (1, 2):
            await rig.post({"type": "ISSUE_APPROVED", "repo": REPO, "issueNumber": n, "milestone": "v1"})
        for n in (1, 2):
            await rig.post({"type": "ISSUE_DONE", "repo": REPO, "issueNumber": n})
        await fake.wait_for(lambda: announcements())
        await db.execute("UPDATE mt_event_progression SET last_seq_id = 0")  # force a full replay
    async with running_rig(fake, pg_server_dsn, clock) as rig:
        await rig.post({"type": "CI_PASSED", "repo": REPO, "issueNumber": 1})
        await fake.wait_for(lambda: any(m.startswith("✅ CI passed") for m in thread_messages(fake, f"{REPO}#1")))
    assert announcements() == ["🏆 Milestone **v1** of acme/app complete (2 issues)"]
    assert len(thread_messages(fake, f"{REPO}#1")) == 3  # approved, done, CI passed: the replay repeated none


async def test_a_refused_message_holds_only_its_issue_and_is_retried_in_order(
        fake: FakeDiscord, db: asyncpg.Pool, pg_server_dsn: str, clock: FakeClock) -> None:
    # A message Discord refuses (here a 403 in one thread, twice) parks that issue alone: its later
    # events wait behind it, in order, other issues flow, and it is retried with backoff.
    async with running_rig(fake, pg_server_dsn, clock, discord_retry_seconds=0.3) as rig:
        await rig.post({"type": "ISSUE_APPROVED", **ISSUE, "title": "t"})
        await rig.post({"type": "ISSUE_APPROVED", "repo": REPO, "issueNumber": 8, "title": "other"})
        await fake.wait_for(lambda: len(thread_messages(fake, f"{REPO}#7")) == 1 and
                            len(thread_messages(fake, f"{REPO}#8")) == 1, what="both threads")
        [thread7] = [t["id"] for t in fake.threads.values() if str(t["name"]).startswith(f"{REPO}#7")]
        fake.fail_next(2, status=403, match=rf"^POST /channels/{thread7}/messages$")
        await rig.post({"type": "REVIEW_DISPUTED", **ISSUE, "attempt": 1})  # refused twice, then sent
        await rig.post({"type": "REVIEW_DISPUTED", **ISSUE, "attempt": 2})
        await rig.post({"type": "CI_PASSED", "repo": REPO, "issueNumber": 8})
        await fake.wait_for(lambda: len(thread_messages(fake, f"{REPO}#8")) == 2, what="the other issue flowing")
        async with rig.http.get(f"{rig.url}/health") as resp:
            parked = (await resp.json())["components"]["delivery"]["parked"]
        if parked:  # seen while it waits (it may have gone through already on a fast machine)
            assert parked[0]["stream"] == f"{REPO}#7" and "403" in parked[0]["reason"]
        await fake.wait_for(lambda: len(thread_messages(fake, f"{REPO}#7")) == 3, what="the retries", timeout=10)
        messages = thread_messages(fake, f"{REPO}#7")
        assert "(iteration 1" in messages[1] and "(iteration 2" in messages[2]
        assert [f.status for f in fake.failures] == [403, 403]
    async with running_rig(fake, pg_server_dsn, clock) as rig:  # restarted: replays from the checkpoint
        await rig.post({"type": "CI_PASSED", **ISSUE})
        await fake.wait_for(lambda: len(thread_messages(fake, f"{REPO}#7")) == 4)
        # approved, two refusals and the retry of attempt 1, attempt 2, CI passed: nothing repeated
        posts = [r for r in fake.requests_to("POST", f"/channels/{thread7}/messages")
                 if not r.json["content"].startswith(CARD_MARK)]
        assert len(posts) == 6


async def test_a_message_refused_every_time_is_skipped_after_the_last_attempt(
        fake: FakeDiscord, db: asyncpg.Pool, pg_server_dsn: str, clock: FakeClock) -> None:
    from bot.discord.notifier import MAX_MESSAGE_ATTEMPTS

    async with running_rig(fake, pg_server_dsn, clock, discord_retry_seconds=0.1) as rig:
        await rig.post({"type": "ISSUE_APPROVED", **ISSUE, "title": "t"})
        await fake.wait_for(lambda: len(thread_messages(fake, f"{REPO}#7")) == 1)
        [thread7] = [t["id"] for t in fake.threads.values() if str(t["name"]).startswith(f"{REPO}#7")]
        fake.fail_next(MAX_MESSAGE_ATTEMPTS, status=400, match=rf"^POST /channels/{thread7}/messages$")
        assert rig.service.notifier is not None
        rig.service.notifier._retry_cap = 0.2  # keep the backoff short for the test  # noqa: SLF001
        await rig.post({"type": "REVIEW_DISPUTED", **ISSUE, "attempt": 1})  # never postable
        await rig.post({"type": "CI_PASSED", **ISSUE})
        await fake.wait_for(lambda: len(thread_messages(fake, f"{REPO}#7")) == 2, timeout=15)
        assert thread_messages(fake, f"{REPO}#7")[1].startswith("✅ CI passed")
        assert len(fake.failures) == MAX_MESSAGE_ATTEMPTS
        assert await db.fetchval("SELECT count(*) FROM mt_events WHERE type = 'review_disputed'") == 1


async def test_a_refused_thread_does_not_hold_other_issues(
        fake: FakeDiscord, db: asyncpg.Pool, pg_server_dsn: str, clock: FakeClock) -> None:
    async with running_rig(fake, pg_server_dsn, clock, discord_retry_seconds=0.3) as rig:
        # The guild's active-thread limit, say: the first four creations of this thread are refused
        # (retried after 0.3, 0.6 and 1.2 s: it opens about 2 s after the first refusal).
        await rig.post({"type": "ISSUE_APPROVED", "repo": REPO, "issueNumber": 8, "title": "other"})
        await fake.wait_for(lambda: len(thread_messages(fake, f"{REPO}#8")) == 1, what="the other thread")
        fake.fail_next(4, status=400, match=r"^POST /channels/\d+/threads$")
        await rig.post({"type": "ISSUE_APPROVED", **ISSUE, "title": "refused at first"})
        await fake.wait_for(lambda: len(fake.failures) >= 1, what="the first refusal")
        await rig.post({"type": "CI_PASSED", **ISSUE})
        await rig.post({"type": "CI_PASSED", "repo": REPO, "issueNumber": 8})
        await fake.wait_for(lambda: len(thread_messages(fake, f"{REPO}#8")) == 2, what="the other issue")
        assert thread_messages(fake, f"{REPO}#7") == []  # still waiting for its thread
        await fake.wait_for(lambda: len(thread_messages(fake, f"{REPO}#7")) == 2, what="the retry", timeout=15)
        assert [f.status for f in fake.failures] == [400] * 4
        assert thread_messages(fake, f"{REPO}#7")[0].startswith("📋")
        assert len([t for t in fake.threads.values() if str(t["name"]).startswith(f"{REPO}#7")]) == 1


async def test_a_refused_tool_call_message_holds_only_its_issue(
        fake: FakeDiscord, db: asyncpg.Pool, pg_server_dsn: str, clock: FakeClock) -> None:
    async with running_rig(fake, pg_server_dsn, clock, discord_tool_events=True, discord_retry_seconds=0.3) as rig:
        await rig.post({"type": "ISSUE_APPROVED", **ISSUE, "title": "t"})
        await rig.post({"type": "ISSUE_APPROVED", "repo": REPO, "issueNumber": 8, "title": "other"})
        await fake.wait_for(lambda: len(thread_messages(fake, f"{REPO}#7")) == 1 and
                            len(thread_messages(fake, f"{REPO}#8")) == 1, what="both threads")
        [thread7] = [t["id"] for t in fake.threads.values() if str(t["name"]).startswith(f"{REPO}#7")]
        fake.fail_next(2, status=400, match=rf"^POST /channels/{thread7}/messages$")  # AutoMod, say
        await rig.post({"type": "TOOL_USED", **ISSUE, "agentId": "dev-e-1", "toolName": "Bash",
                        "targetPreview": "rm -rf build"})
        await fake.wait_for(lambda: len(fake.failures) >= 1, what="the refusal")
        await rig.post({"type": "CI_PASSED", "repo": REPO, "issueNumber": 8})
        await fake.wait_for(lambda: len(thread_messages(fake, f"{REPO}#8")) == 2, what="the other issue")
        async with rig.http.get(f"{rig.url}/health") as resp:
            assert (await resp.json())["components"]["delivery"]["state"] != "paused"
        await fake.wait_for(lambda: any(m.startswith("🔧") for m in thread_messages(fake, f"{REPO}#7")),
                            what="the tool calls, retried", timeout=10)
        assert [f.status for f in fake.failures] == [400, 400]
