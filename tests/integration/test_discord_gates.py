"""Human gates in Discord: buttons, authorisation, double clicks, /gate, escalation panels."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

from tests.fake_discord import ADMIN_MEMBER, GATE_MEMBER, GATE_ROLE, PLAIN_MEMBER, Answer, FakeDiscord

from ..conftest import FakeClock
from .discord_harness import Rig, running_rig

REPO = "acme/app"
ISSUE = {"repo": REPO, "issueNumber": 7}
STREAM = f"{REPO}#7"



def thread_of(fake: FakeDiscord) -> dict[str, Any]:
    [thread] = [t for t in fake.threads.values() if t["name"].startswith(STREAM)]
    return thread


def panel(fake: FakeDiscord, starts: str) -> dict[str, Any]:
    return next(m for m in fake.messages_in(thread_of(fake)["id"]) if m["content"].startswith(starts))


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for row in message.get("components", []) for c in row.get("components", [])]


async def open_gate(rig: Rig, fake: FakeDiscord) -> dict[str, Any]:
    await rig.post({"type": "ISSUE_APPROVED", **ISSUE, "title": "Add auth"})
    await rig.post({"type": "PR_CREATED", **ISSUE, "prNumber": 88, "prUrl": "https://github.com/acme/app/pull/88"})
    await rig.post({"type": "HUMAN_GATE_TRIGGERED", **ISSUE, "prNumber": 88, "reason": "touches auth"})
    return await fake.wait_for(lambda: next((m for m in fake.messages_in(thread_of(fake)["id"])
                                             if "Human gate" in m["content"]), None) if fake.threads else None)


async def decide_by_form(fake: FakeDiscord, message: dict[str, Any], action: str, user: str,
                         written: str = "") -> Answer:
    """Click Approve or Reject, fill in the form it opens, submit it: the answer to the submission."""
    click = await fake.click_button(message, f"cnd:{action}:{STREAM}", user=user)
    form = await fake.wait_answer(click)
    assert form.modal is not None, form
    submitted = await fake.submit_modal(click, {"reason": written})
    return await fake.wait_answer(submitted)


async def gate_events(db: asyncpg.Pool) -> list[tuple[str, Any]]:
    rows = await db.fetch("SELECT type, data FROM mt_events WHERE type LIKE 'human_gate_%' ORDER BY seq_id")
    return [(r["type"], r["data"].get("DecidedBy")) for r in rows]


async def test_gate_posts_role_mention_and_buttons(fake: FakeDiscord, db: asyncpg.Pool, pg_server_dsn: str,
                                                   clock: FakeClock) -> None:
    async with running_rig(fake, pg_server_dsn, clock) as rig:
        message = await open_gate(rig, fake)
        role_id = fake.role(GATE_ROLE).id
        assert f"<@&{role_id}>" in message["content"] and "touches auth" in message["content"]
        assert "pull/88" in message["content"]
        assert [b["label"] for b in buttons(message)] == ["Approve", "Reject"]
        assert [b["custom_id"] for b in buttons(message)] == [f"cnd:approve:{STREAM}", f"cnd:reject:{STREAM}"]
        sent = [r.json for r in fake.requests_to("POST", "/messages") if r.json and "Human gate" in r.json["content"]]
        assert [str(r) for r in sent[0]["allowed_mentions"]["roles"]] == [role_id]


async def test_unauthorised_click_is_refused_privately(fake: FakeDiscord, db: asyncpg.Pool, pg_server_dsn: str,
                                                       clock: FakeClock) -> None:
    async with running_rig(fake, pg_server_dsn, clock) as rig:
        message = await open_gate(rig, fake)
        click = await fake.click_button(message, f"cnd:approve:{STREAM}", user=PLAIN_MEMBER)
        callback = await fake.wait_callback(click)
        assert callback.type == 4 and callback.ephemeral and "gate role" in callback.data["content"]
        assert await gate_events(db) == [("human_gate_triggered", None)]


async def test_double_click_gives_exactly_one_decision_and_disables_buttons(
        fake: FakeDiscord, db: asyncpg.Pool, pg_server_dsn: str, clock: FakeClock) -> None:
    async with running_rig(fake, pg_server_dsn, clock) as rig:
        message = await open_gate(rig, fake)
        answers = await asyncio.gather(decide_by_form(fake, message, "approve", GATE_MEMBER),
                                       decide_by_form(fake, message, "reject", ADMIN_MEMBER, "not yet"))
        assert sum(a.content.startswith("Already decided by") for a in answers) == 1, answers
        assert all(a.ephemeral for a in answers)
        decisions = await gate_events(db)
        assert len(decisions) == 2 and decisions[1][1] in (GATE_MEMBER, ADMIN_MEMBER)
        edited = await fake.wait_for(lambda: (m := fake.message(message["id"])) and
                                     all(b.get("disabled") for b in buttons(m)) and m)
        assert "by" in edited["content"].splitlines()[-1]
        issue = await (await rig.http.get(f"{rig.url}/api/issues/{REPO}/7")).json()
        assert issue["gate"]["open"] is False and issue["gate"]["decidedBy"] in (GATE_MEMBER, ADMIN_MEMBER)
        # One decision message in the thread (private answers aside), from the notifier.
        await fake.wait_for(lambda: [m["content"].split(" by ")[0] for m in fake.messages_in(thread_of(fake)["id"])
                                     if m["content"].startswith(("✅ Gate", "⛔ Gate"))
                                     and not m["flags"] & 64] in (["✅ Gate **approved**"], ["⛔ Gate **rejected**"]))


async def test_buttons_keep_working_after_a_restart(fake: FakeDiscord, db: asyncpg.Pool, pg_server_dsn: str,
                                                    clock: FakeClock) -> None:
    async with running_rig(fake, pg_server_dsn, clock) as rig:
        message = await open_gate(rig, fake)
    async with running_rig(fake, pg_server_dsn, clock):
        answer = await decide_by_form(fake, message, "reject", GATE_MEMBER, "needs a migration plan")
        assert answer.content.startswith("⛔ Rejected")
    assert await gate_events(db) == [("human_gate_triggered", None), ("human_gate_rejected", GATE_MEMBER)]


async def test_gate_slash_commands_with_reason(fake: FakeDiscord, db: asyncpg.Pool, pg_server_dsn: str,
                                               clock: FakeClock) -> None:
    async with running_rig(fake, pg_server_dsn, clock) as rig:
        message = await open_gate(rig, fake)
        denied = await fake.slash_command("gate approve", {"repo": REPO, "number": 7, "reason": "ok"},
                                          user=PLAIN_MEMBER)
        assert (await fake.wait_answer(denied)).ephemeral
        done = await fake.slash_command("gate approve", {"repo": REPO, "number": 7, "reason": "reviewed the diff"},
                                        user=ADMIN_MEMBER)
        assert "reviewed the diff" in (await fake.wait_answer(done)).content
        again = await fake.slash_command("gate reject", {"repo": REPO, "number": 7, "reason": "late"},
                                         user=GATE_MEMBER)
        assert (await fake.wait_answer(again)).content.startswith("Already decided by **admin** (approved, ")
        row = await db.fetchrow("SELECT data FROM mt_events WHERE type = 'human_gate_approved'")
        assert row["data"]["Reason"] == "reviewed the diff" and row["data"]["PrNumber"] == 88
        await fake.wait_for(lambda: all(b.get("disabled") for b in buttons(fake.message(message["id"]) or {})))


async def test_escalation_panel_requeues_or_closes(fake: FakeDiscord, db: asyncpg.Pool, pg_server_dsn: str,
                                                   clock: FakeClock) -> None:
    async with running_rig(fake, pg_server_dsn, clock) as rig:
        await rig.post({"type": "ISSUE_APPROVED", **ISSUE})
        await rig.post({"type": "SMOKE_FAILED", **ISSUE, "reason": "external_dependency"})
        message = await fake.wait_for(lambda: next((m for t in fake.threads.values()
                                                    for m in fake.messages_in(t["id"]) if "Escalated" in m["content"]),
                                                   None))
        assert f"<@&{fake.role(GATE_ROLE).id}>" in message["content"]
        assert [b["label"] for b in buttons(message)] == ["Back to queue", "Close issue"]
        click = await fake.click_button(message, f"cnd:requeue:{STREAM}", user=GATE_MEMBER)
        assert (await fake.wait_answer(click)).content.startswith("🔁")
        issue = await (await rig.http.get(f"{rig.url}/api/issues/{REPO}/7")).json()
        assert issue["state"] == "queued" and issue["escalation"] is None
        again = await fake.click_button(message, f"cnd:close:{STREAM}", user=GATE_MEMBER)
        assert "not escalated" in (await fake.wait_answer(again)).content
        await fake.wait_for(lambda: all(b.get("disabled") for b in buttons(fake.message(message["id"]) or {})))
        # escalated again (two strikes), and this time closed
        for agent in ("dev-e-1", "dev-e-2"):
            await rig.post({"type": "AGENT_STUCK", **ISSUE, "agentId": agent})
        second = await fake.wait_for(lambda: next((m for m in fake.messages_in(thread_of(fake)["id"])
                                                   if "Escalated" in m["content"] and m["id"] != message["id"]), None))
        close = await fake.click_button(second, f"cnd:close:{STREAM}", user=ADMIN_MEMBER)
        assert (await fake.wait_answer(close)).content.startswith("🛑 Closed")
        issue = await (await rig.http.get(f"{rig.url}/api/issues/{REPO}/7")).json()
        assert issue["state"] == "closed"
        assert await db.fetchval("SELECT data->>'DecidedBy' FROM mt_events WHERE type = 'issue_closed'") == ADMIN_MEMBER


async def test_the_gate_role_is_mentioned_at_most_once_per_reminder_interval(
        fake: FakeDiscord, db: asyncpg.Pool, pg_server_dsn: str, clock: FakeClock) -> None:
    interval_minutes = 0.05  # 3 s
    async with running_rig(fake, pg_server_dsn, clock, human_gate_reminder_minutes=interval_minutes) as rig:
        await open_gate(rig, fake)
        # Two reminders that were held up arrive together: they ping no one.
        for minutes in (3, 6):
            await rig.post({"type": "HUMAN_GATE_REMINDER", **ISSUE, "prNumber": 88, "attempt": minutes})
        await fake.wait_for(lambda: sum(m["content"].startswith("⏰") for m in fake.messages_in(thread_of(fake)["id"]))
                            == 2)
        await asyncio.sleep(interval_minutes * 60)
        await rig.post({"type": "HUMAN_GATE_REMINDER", **ISSUE, "prNumber": 88, "attempt": 9})
        await fake.wait_for(lambda: sum(m["content"].startswith("⏰") for m in fake.messages_in(thread_of(fake)["id"]))
                            == 3)
        role = f"<@&{fake.role(GATE_ROLE).id}>"
        posted = [m["content"] for m in fake.messages_in(thread_of(fake)["id"])
                  if m["content"].startswith(("🚦", "⏰"))]
        assert [role in m for m in posted] == [True, False, False, True]
        pinged = [r.json for r in fake.requests_to("POST", "/messages")
                  if r.json and r.json["content"].startswith(("🚦", "⏰"))]
        assert [bool(p["allowed_mentions"]["roles"]) for p in pinged] == [True, False, False, True]


async def test_a_gate_message_retried_after_a_refusal_still_mentions_the_role(
        fake: FakeDiscord, db: asyncpg.Pool, pg_server_dsn: str, clock: FakeClock) -> None:
    async with running_rig(fake, pg_server_dsn, clock, discord_retry_seconds=0.2) as rig:
        await rig.post({"type": "ISSUE_APPROVED", **ISSUE, "title": "Add auth"})
        await fake.wait_for(lambda: fake.threads and fake.messages_in(thread_of(fake)["id"]))  # the first message in
        fake.fail_next(1, status=403, match=rf"^POST /channels/{thread_of(fake)['id']}/messages$")
        await rig.post({"type": "HUMAN_GATE_TRIGGERED", **ISSUE, "prNumber": 88, "reason": "touches auth"})
        message = await fake.wait_for(lambda: next((m for m in fake.messages_in(thread_of(fake)["id"])
                                                    if "Human gate" in m["content"]), None), timeout=10)
        assert f"<@&{fake.role(GATE_ROLE).id}>" in message["content"]
