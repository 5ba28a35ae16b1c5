"""Trust in Discord: decisions count only from the rig's own server, from a member who may
decide there, and each records who decided and through which channel."""

from __future__ import annotations

import logging

import asyncpg
import pytest

from tests.fake_discord import GATE_MEMBER, PLAIN_MEMBER, FakeDiscord

from ..conftest import OPERATOR_TOKEN, FakeClock
from .discord_harness import running_rig
from .test_discord_gates import STREAM, decide_by_form, gate_events, open_gate

OTHER_GUILD = "999999999999999999"


async def test_a_click_from_another_guild_is_refused_and_stores_nothing(
        fake: FakeDiscord, db: asyncpg.Pool, pg_server_dsn: str, clock: FakeClock) -> None:
    async with running_rig(fake, pg_server_dsn, clock) as rig:
        message = await open_gate(rig, fake)
        # The gate-role holder himself, but the interaction says it comes from another server.
        click = await fake.click_button(message, f"cnd:approve:{STREAM}", user=GATE_MEMBER, from_guild=OTHER_GUILD)
        callback = await fake.wait_callback(click)
        assert callback.ephemeral and "only in the rig's own server" in callback.data["content"]
        assert await gate_events(db) == [("human_gate_triggered", None)]
        # The same click from the configured guild decides.
        answer = await decide_by_form(fake, message, "approve", GATE_MEMBER)
        assert answer.content.startswith("✅ Approved")


async def test_without_a_configured_guild_no_decision_is_taken(
        fake: FakeDiscord, db: asyncpg.Pool, pg_server_dsn: str, clock: FakeClock) -> None:
    async with running_rig(fake, pg_server_dsn, clock, discord_guild_id=None) as rig:
        message = await open_gate(rig, fake)
        click = await fake.click_button(message, f"cnd:approve:{STREAM}", user=GATE_MEMBER)
        assert "DISCORD_GUILD_ID" in (await fake.wait_callback(click)).data["content"]
        assert await gate_events(db) == [("human_gate_triggered", None)]


async def test_a_decision_records_the_member_the_channel_and_their_id(
        fake: FakeDiscord, db: asyncpg.Pool, pg_server_dsn: str, clock: FakeClock) -> None:
    async with running_rig(fake, pg_server_dsn, clock) as rig:
        message = await open_gate(rig, fake)
        refused = await fake.click_button(message, f"cnd:reject:{STREAM}", user=PLAIN_MEMBER)
        assert "gate role" in (await fake.wait_callback(refused)).data["content"]
        await decide_by_form(fake, message, "reject", GATE_MEMBER, "split the migration")
        data = await db.fetchval("SELECT data FROM mt_events WHERE type = 'human_gate_rejected'")
        member = fake.member(GATE_MEMBER)
        assert (data["DecidedBy"], data["DecidedVia"], data["DeciderId"]) == (GATE_MEMBER, "discord", member.id)
        # ... which a reviewer reads back from the stream, with when (the event's timestamp).
        stream = await (await rig.http.get(f"{rig.url}/api/events/stream", params={"id": STREAM})).json()
        decision = stream[-1]
        assert (decision["type"], decision["decidedVia"], decision["deciderId"]) == \
            ("HUMAN_GATE_REJECTED", "discord", member.id)
        assert decision["timestamp"]


async def test_no_secret_reaches_the_log(fake: FakeDiscord, db: asyncpg.Pool, pg_server_dsn: str,
                                         clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    bot_token = "discord-bot-secret-5f0c1a9e"
    async with running_rig(fake, pg_server_dsn, clock, discord_token=bot_token) as rig:
        message = await open_gate(rig, fake)
        await decide_by_form(fake, message, "approve", GATE_MEMBER, "fine")
        refused = await rig.http.post(f"{rig.url}/api/events", json={"type": "ISSUE_CLOSED", "repo": "acme/app",
                                                                     "issueNumber": 7},
                                      headers={"Authorization": f"Bearer {OPERATOR_TOKEN}0"})
        assert refused.status == 401
    assert caplog.records
    assert bot_token not in caplog.text and OPERATOR_TOKEN not in caplog.text
