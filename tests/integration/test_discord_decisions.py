"""Decisions with what the human wrote: Approve and Reject open a form (a Discord modal), the
reason or note is stored on the decision, shown in the thread and kept on the issue's gate."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

from commands.decisions import NEEDS_REASON, REASON_MAX
from tests.fake_discord import ADMIN_MEMBER, GATE_MEMBER, GATE_ROLE, FakeDiscord, FakeMember
from tests.fake_discord.models import default_members

from ..conftest import FakeClock
from .discord_harness import running_rig
from .test_discord_gates import REPO, STREAM, buttons, decide_by_form, gate_events, open_gate, thread_of

AGENT = "dev-e-1"


def thread_texts(fake: FakeDiscord) -> list[str]:
    """What everyone sees in the issue's thread (private answers left out)."""
    return [m["content"] for m in fake.messages_in(thread_of(fake)["id"]) if not m["flags"] & 64]


async def issue_gate(rig: Any) -> dict[str, Any]:
    gate: dict[str, Any] = (await (await rig.http.get(f"{rig.url}/api/issues/{REPO}/7")).json())["gate"]
    return gate


async def test_a_rejection_reason_arrives_through_the_form_and_is_stored_and_shown(
        fake: FakeDiscord, db: asyncpg.Pool, pg_server_dsn: str, clock: FakeClock) -> None:
    async with running_rig(fake, pg_server_dsn, clock) as rig:
        message = await open_gate(rig, fake)
        click = await fake.click_button(message, f"cnd:reject:{STREAM}", user=GATE_MEMBER)
        form = await fake.wait_answer(click)
        assert form.modal is not None and form.modal["title"] == f"Reject {STREAM}"
        [label] = form.modal["components"]
        field = label["component"]
        assert (label["type"], label["label"], field["type"], field["custom_id"]) == (18, "Reason", 4, "reason")
        assert (field["required"], field["min_length"], field["max_length"], field["style"]) == (True, 1, REASON_MAX, 2)
        answer = await fake.wait_answer(await fake.submit_modal(click, {"reason": "  Split the migration\ninto two "}))
        assert answer.first_type == 5 and answer.ephemeral  # deferred: the decision waits for the append lock
        assert answer.content == f"⛔ Rejected — {STREAM}: Split the migration into two"
        data = await db.fetchval("SELECT data FROM mt_events WHERE type = 'human_gate_rejected'")
        assert (data["Reason"], data["DecidedBy"], data["DecidedVia"]) == \
            ("Split the migration\ninto two", GATE_MEMBER, "discord")
        # shown in the thread (one line: it cannot fake a line of its own), and kept on the gate
        await fake.wait_for(lambda: "⛔ Gate **rejected** by gatekeeper: Split the migration into two"
                            in thread_texts(fake))
        gate = await issue_gate(rig)
        assert (gate["decision"], gate["decidedBy"], gate["decisionReason"]) == \
            ("rejected", GATE_MEMBER, "Split the migration\ninto two")
        await fake.wait_for(lambda: all(b.get("disabled") for b in buttons(fake.message(message["id"]) or {})))


async def test_a_rejection_without_a_reason_is_refused_and_stores_nothing(
        fake: FakeDiscord, db: asyncpg.Pool, pg_server_dsn: str, clock: FakeClock) -> None:
    async with running_rig(fake, pg_server_dsn, clock) as rig:
        message = await open_gate(rig, fake)
        # Discord's own client requires the field; a reason of blanks is no reason either.
        for blank in ("", "   \n "):
            refused = await decide_by_form(fake, message, "reject", GATE_MEMBER, blank)
            assert (refused.content, refused.ephemeral) == (NEEDS_REASON, True)
        too_long = await decide_by_form(fake, message, "reject", GATE_MEMBER, "x" * (REASON_MAX + 1))
        assert too_long.ephemeral and "at most 1,000" in too_long.content
        assert await gate_events(db) == [("human_gate_triggered", None)]
        assert (await issue_gate(rig))["open"] is True
        assert (await decide_by_form(fake, message, "reject", GATE_MEMBER, "tests missing")).content.startswith("⛔")


async def test_an_approval_takes_an_optional_note(
        fake: FakeDiscord, db: asyncpg.Pool, pg_server_dsn: str, clock: FakeClock) -> None:
    async with running_rig(fake, pg_server_dsn, clock) as rig:
        message = await open_gate(rig, fake)
        click = await fake.click_button(message, f"cnd:approve:{STREAM}", user=ADMIN_MEMBER)
        form = await fake.wait_answer(click)
        assert form.modal is not None and form.modal["title"] == f"Approve {STREAM}"
        field = form.modal["components"][0]["component"]
        assert (field["required"], field.get("min_length", 0)) == (False, 0)
        answer = await fake.wait_answer(await fake.submit_modal(click, {"reason": "read the diff: fine"}))
        assert answer.content == f"✅ Approved — {STREAM}: read the diff: fine"
        await fake.wait_for(lambda: "✅ Gate **approved** by admin: read the diff: fine" in thread_texts(fake))
        assert (await issue_gate(rig))["decisionReason"] == "read the diff: fine"


async def test_two_clicks_give_one_decision_and_the_second_is_told_who_decided(
        fake: FakeDiscord, db: asyncpg.Pool, pg_server_dsn: str, clock: FakeClock) -> None:
    async with running_rig(fake, pg_server_dsn, clock) as rig:
        message = await open_gate(rig, fake)
        clicks = [await fake.click_button(message, f"cnd:approve:{STREAM}", user=GATE_MEMBER) for _ in range(2)]
        for click in clicks:  # both open the form: the gate is still open
            assert (await fake.wait_answer(click)).modal is not None
        submitted = await asyncio.gather(*(fake.submit_modal(c, {"reason": ""}) for c in clicks))
        answers = sorted([(await fake.wait_answer(s)).content for s in submitted])
        assert answers[0].startswith("Already decided by **gatekeeper** (approved, ") and answers[0].endswith(
            "nothing changed.")
        assert answers[1] == f"✅ Approved — {STREAM}"
        assert await gate_events(db) == [("human_gate_triggered", None), ("human_gate_approved", GATE_MEMBER)]
        # A click once it is decided opens no form: it says who decided, at once.
        late = await fake.wait_answer(await fake.click_button(message, f"cnd:reject:{STREAM}", user=ADMIN_MEMBER))
        assert late.modal is None and late.first_type == 4 and late.ephemeral
        assert late.content.startswith("Already decided by **gatekeeper** (approved, ")


async def test_the_requesters_agent_can_never_decide(db: asyncpg.Pool, pg_server_dsn: str, clock: FakeClock) -> None:
    # The agent whose change is gated has a Discord account too, and someone gave it the gate role.
    agent = FakeMember(username=AGENT, roles=[GATE_ROLE], bot=True)
    async with FakeDiscord(members=[*default_members(), agent]) as fake, \
            running_rig(fake, pg_server_dsn, clock) as rig:
        await rig.post({"type": "ISSUE_ASSIGNED", "repo": REPO, "issueNumber": 7, "agentId": AGENT})
        message = await open_gate(rig, fake)
        refused = await fake.wait_answer(await fake.click_button(message, f"cnd:reject:{STREAM}", user=AGENT))
        assert refused.modal is None and refused.ephemeral and "made by people" in refused.content
        # Nor through a form someone else opened: who submits is who decides.
        click = await fake.click_button(message, f"cnd:approve:{STREAM}", user=GATE_MEMBER)
        assert (await fake.wait_answer(click)).modal is not None
        forged = await fake.wait_answer(await fake.submit_modal(click, {"reason": "ship it"}, user=AGENT))
        assert forged.ephemeral and "made by people" in forged.content
        # Nor over HTTP without an operator's token (the agent runtimes send none).
        async with rig.http.post(f"{rig.url}/api/events", json={"type": "HUMAN_GATE_APPROVED", "repo": REPO,
                                                                "issueNumber": 7, "agentId": AGENT}) as resp:
            assert resp.status == 401 and (await resp.json())["error"] == "operator_required"
        assert await gate_events(db) == [("human_gate_triggered", None)]


async def test_a_form_opened_before_a_restart_still_decides(
        fake: FakeDiscord, db: asyncpg.Pool, pg_server_dsn: str, clock: FakeClock) -> None:
    async with running_rig(fake, pg_server_dsn, clock) as rig:
        message = await open_gate(rig, fake)
        click = await fake.click_button(message, f"cnd:reject:{STREAM}", user=GATE_MEMBER)
        assert (await fake.wait_answer(click)).modal is not None
    async with running_rig(fake, pg_server_dsn, clock):  # a new process: nothing of the form in memory
        answer = await fake.wait_answer(await fake.submit_modal(click, {"reason": "rebase first"}))
        assert answer.content == f"⛔ Rejected — {STREAM}: rebase first"
    assert await gate_events(db) == [("human_gate_triggered", None), ("human_gate_rejected", GATE_MEMBER)]
