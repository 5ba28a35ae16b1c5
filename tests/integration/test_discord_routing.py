"""Per-repo channels: DISCORD_REPO_CHANNELS, and /route changing the routing at run time (stored
in PostgreSQL); an issue's existing thread stays where it is."""

from __future__ import annotations

import asyncpg

from tests.fake_discord import GATE_MEMBER, PLAIN_MEMBER, FakeDiscord

from ..conftest import FakeClock
from .discord_harness import running_rig, thread_messages


def parent_of(fake: FakeDiscord, stream: str) -> str | None:
    threads = [t for t in fake.threads.values() if t["name"].startswith(stream)]
    return threads[0]["parent_id"] if threads else None


async def route(fake: FakeDiscord, options: dict[str, object], user: str = GATE_MEMBER) -> str:
    interaction = await fake.slash_command("route", options, user=user)
    callback = await fake.wait_callback(interaction)
    assert callback.ephemeral
    return str(callback.data["content"])


async def approve(fake: FakeDiscord, rig: object, repo: str, number: int) -> str:
    await rig.post({"type": "ISSUE_APPROVED", "repo": repo, "issueNumber": number, "title": "t"})  # type: ignore[attr-defined]
    await fake.wait_for(lambda: thread_messages(fake, f"{repo}#{number}"), what=f"the thread of {repo}#{number}")
    parent = parent_of(fake, f"{repo}#{number}")
    assert parent is not None
    return parent


async def test_repos_go_to_their_channels_by_setting_and_by_route(
        db: asyncpg.Pool, pg_server_dsn: str, clock: FakeClock) -> None:
    async with FakeDiscord(extra_channels=["pay", "web"], forum_channels={"pay-posts": []}) as fake:
        default, pay, web = fake.channel_id, fake.channel_named("pay"), fake.channel_named("web")
        forum = fake.channel_named("pay-posts")
        async with running_rig(fake, pg_server_dsn, clock, discord_repo_channels={"acme/pay": int(pay)}) as rig:
            assert await approve(fake, rig, "acme/pay", 1) == pay
            assert await approve(fake, rig, "acme/web", 1) == default

            refused = await route(fake, {"repo": "acme/web", "channel": web}, user=PLAIN_MEMBER)
            assert "gate role" in refused
            assert "not a repo" in await route(fake, {"repo": "acme web", "channel": web})
            answer = await route(fake, {"repo": "acme/web", "channel": web})
            assert f"<#{web}>" in answer and "stay where they are" in answer
            assert await approve(fake, rig, "acme/web", 2) == web
            await rig.post({"type": "CI_PASSED", "repo": "acme/web", "issueNumber": 1})
            await fake.wait_for(lambda: len(thread_messages(fake, "acme/web#1")) == 2)
            assert parent_of(fake, "acme/web#1") == default  # its thread stayed

            await route(fake, {"repo": "acme/pay", "channel": forum})  # a route replaces the setting
            assert await approve(fake, rig, "acme/pay", 2) == forum
            listing = await route(fake, {}, user=PLAIN_MEMBER)  # anyone may look
            assert listing.splitlines()[0] == f"**Routes** — every other repo: <#{default}>"
            assert f"• `acme/pay` → <#{forum}> (set by {GATE_MEMBER}" in listing
            assert f"• `acme/web` → <#{web}> (set by {GATE_MEMBER}" in listing
            assert f"<#{pay}>" in await route(fake, {"repo": "acme/pay", "remove": True})  # back to the setting
            assert await approve(fake, rig, "acme/pay", 3) == pay
            assert "DISCORD_REPO_CHANNELS" in await route(fake, {"repo": "acme/pay", "remove": True})
            assert f"• `acme/pay` → <#{pay}> (DISCORD_REPO_CHANNELS)" in await route(fake, {})
            assert f"go to <#{web}>" in await route(fake, {"repo": "acme/web"}, user=PLAIN_MEMBER)
            rows = await db.fetch("SELECT repo, channel_id, set_by FROM ce_discord_routes")
            assert [(r["repo"], r["channel_id"], r["set_by"]) for r in rows] == [("acme/web", int(web), GATE_MEMBER)]
        async with running_rig(fake, pg_server_dsn, clock) as rig:  # stored: a restart keeps the route
            assert await approve(fake, rig, "acme/web", 3) == web


async def test_a_route_to_a_channel_the_bot_cannot_use_holds_only_that_repo(
        fake: FakeDiscord, db: asyncpg.Pool, pg_server_dsn: str, clock: FakeClock) -> None:
    async with running_rig(fake, pg_server_dsn, clock, discord_repo_channels={"acme/pay": 123456789},
                           discord_retry_seconds=0.2) as rig:
        await rig.post({"type": "ISSUE_APPROVED", "repo": "acme/pay", "issueNumber": 1, "title": "t"})
        assert await approve(fake, rig, "acme/web", 1) == fake.channel_id  # others flow
        async with rig.http.get(f"{rig.url}/health") as resp:
            delivery = (await resp.json())["components"]["delivery"]
        assert delivery["state"] == "running"
        assert [p["stream"] for p in delivery["parked"]] == ["acme/pay#1"]
        assert "123456789" in delivery["parked"][0]["reason"]
        assert parent_of(fake, "acme/pay#1") is None
