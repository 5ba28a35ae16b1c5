"""The gate ladder: after HUMAN_GATE_ESCALATE_AFTER reminders, a reminder also mentions the
escalation role, and only that role's ping is allowed besides the gate role's."""

from __future__ import annotations

from typing import Any

import asyncpg

from tests.fake_discord import FakeDiscord, FakeRole
from tests.fake_discord.models import default_roles

from ..conftest import FakeClock
from .discord_harness import running_rig, thread_messages

REPO = "acme/app"
ISSUE = {"repo": REPO, "issueNumber": 7}
LEADS = "Leads"


def reminders_sent(fake: FakeDiscord) -> list[dict[str, Any]]:
    """The reminder messages as the bot sent them (content and allowed_mentions)."""
    return [r.json for r in fake.requests_to("POST", "/messages") if r.json and r.json["content"].startswith("⏰")]


async def test_reminders_after_the_first_n_also_mention_the_escalation_role(
        db: asyncpg.Pool, pg_server_dsn: str, clock: FakeClock) -> None:
    async with FakeDiscord(roles=[*default_roles(), FakeRole(name=LEADS)]) as fake:
        leads = fake.role(LEADS).id
        async with running_rig(fake, pg_server_dsn, clock, human_gate_escalate_after=2,
                               discord_escalation_role_id=int(leads or 0)) as rig:
            scheduler = rig.service.scheduler
            assert scheduler is not None
            await rig.post({"type": "ISSUE_APPROVED", **ISSUE, "title": "Pay"})
            await rig.post({"type": "HUMAN_GATE_TRIGGERED", **ISSUE, "prNumber": 5, "reason": "payments"})
            await fake.wait_for(lambda: any(m.startswith("🚦") for m in thread_messages(fake, f"{REPO}#7")))
            for n in range(1, 5):
                clock.advance(minutes=30)
                await scheduler.tick()
                await fake.wait_for(lambda n=n: len(reminders_sent(fake)) == n)
            sent = reminders_sent(fake)
            escalated = [f"<@&{leads}>" in s["content"] for s in sent]
            # the first two go to the gate role only; the third escalates; the fourth, an interval
            # later by the rig's clock but at once by delivery, does not ping the leads again
            assert escalated == [False, False, True, False]
            assert sent[2]["content"].endswith(f"still waiting after 90 min — escalated to <@&{leads}>")
            assert [str(r) for r in sent[2]["allowed_mentions"]["roles"]] == [leads]
            assert sent[2]["allowed_mentions"]["parse"] == []  # no @everyone, no users
            assert all(s["allowed_mentions"]["roles"] == [] for i, s in enumerate(sent) if i != 2)
