"""An issue channel that is a forum: one post per issue (its starter message the status card),
its tags following the state, and the board a pinned post of its own."""

from __future__ import annotations

from typing import Any

import asyncpg

from bot.discord.board import BOARD_POST_NAME
from bot.discord.status_card import CARD_MARK, MANAGED_TAGS
from tests.fake_discord import FakeDiscord
from tests.fake_discord.models import BOT_PERMISSIONS, MANAGE_CHANNELS

from ..conftest import OPERATOR, FakeClock
from .discord_harness import Rig, running_rig, thread_messages

REPO = "acme/app"
ISSUE = {"repo": REPO, "issueNumber": 7}
STREAM = f"{REPO}#7"
# The forum's own tags, in casings of their own; it has no "failed" and no "closed".
EXISTING = ["Queued", "ASSIGNED", "in_progress", "In Review", "gate_open", "deploying", "Done", "bug"]


def post_of(fake: FakeDiscord) -> dict[str, Any]:
    [post] = [t for t in fake.threads.values() if t["name"].startswith(STREAM)]
    return post


async def tags_become(fake: FakeDiscord, names: list[str]) -> None:
    def posted() -> bool:
        posts = [t for t in fake.threads.values() if t["name"].startswith(STREAM)]
        return bool(posts) and fake.tag_names(posts[0]["id"]) == names

    await fake.wait_for(posted, timeout=10, what=f"the post's tags becoming {names}")


async def operator(rig: Rig, body: dict[str, Any]) -> None:
    async with rig.http.post(f"{rig.url}/api/events", json=body, headers=OPERATOR) as resp:
        assert resp.status == 201, await resp.text()


async def test_a_forum_post_per_issue_whose_tags_follow_the_state(
        db: asyncpg.Pool, pg_server_dsn: str, clock: FakeClock, caplog: Any) -> None:
    async with FakeDiscord(forum_channels={"issue-posts": EXISTING}) as fake:
        forum = fake.channel_named("issue-posts")
        async with running_rig(fake, pg_server_dsn, clock, discord_channel_id=int(forum),
                               discord_card_seconds=0.5) as rig:
            await rig.post({"type": "ISSUE_APPROVED", **ISSUE, "title": "Add auth"})
            await fake.wait_for(lambda: thread_messages(fake, STREAM), what="the post")
            post = post_of(fake)
            starter = fake.messages_in(post["id"])[0]
            assert post["parent_id"] == forum and starter["id"] == post["id"]  # the card is the post itself
            assert starter["content"].startswith(f"{CARD_MARK} **acme/app#7** Add auth")
            assert fake.tag_names(post["id"]) == ["Queued"]
            creation = next(r for r in fake.requests_to("POST", f"/channels/{forum}/threads")
                            if r.json["name"].startswith(STREAM))
            assert creation.json["message"]["content"] == starter["content"]  # one call makes post, card and tags

            await rig.post({"type": "ISSUE_ASSIGNED", **ISSUE, "agentId": "dev-e-1"})
            await tags_become(fake, ["ASSIGNED"])
            await rig.post({"type": "WORK_STARTED", **ISSUE, "agentId": "dev-e-1"})
            await tags_become(fake, ["in_progress"])
            await fake.set_post_tags(post["id"], ["in_progress", "bug"])  # someone adds a tag of theirs
            await rig.post({"type": "PR_CREATED", **ISSUE, "prNumber": 88})
            await tags_become(fake, ["In Review", "bug"])
            await rig.post({"type": "HUMAN_GATE_TRIGGERED", **ISSUE, "prNumber": 88, "reason": "touches auth"})
            await tags_become(fake, ["In Review", "gate_open", "bug"])
            await operator(rig, {"type": "HUMAN_GATE_APPROVED", **ISSUE})
            await tags_become(fake, ["In Review", "bug"])
            await rig.post({"type": "MERGED", **ISSUE, "prNumber": 88})
            await tags_become(fake, ["deploying", "bug"])
            await rig.post({"type": "ISSUE_DONE", **ISSUE})
            await tags_become(fake, ["Done", "bug"])
            await fake.wait_for(lambda: "Done" in fake.messages_in(post["id"])[0]["content"], what="the card done")
            await rig.post({"type": "ISSUE_APPROVED", "repo": REPO, "issueNumber": 8, "title": "other"})
            await rig.post({"type": "SMOKE_FAILED", "repo": REPO, "issueNumber": 8, "reason": "external_dependency"})
            other = await fake.wait_for(lambda: next((t for t in fake.threads.values()
                                                      if t["name"].startswith(f"{REPO}#8")), None))
            await fake.wait_for(lambda: any("Escalated" in m for m in thread_messages(fake, f"{REPO}#8")))
            await fake.wait_for(lambda: fake.tag_names(other["id"]) == [], what="no tag for failed: none exists")
            assert len([t for t in fake.threads.values() if t["name"].startswith(STREAM)]) == 1
        assert not fake.requests_to("PATCH", f"/channels/{forum}")  # it may not create tags: it never tried
    missing = [r.getMessage() for r in caplog.records if "may not create" in r.getMessage()]
    assert len(missing) == 1 and "failed, closed" in missing[0] and "Manage Channels" in missing[0]


async def test_missing_tags_are_created_when_the_bot_may_and_the_board_is_a_pinned_post(
        db: asyncpg.Pool, pg_server_dsn: str, clock: FakeClock) -> None:
    async with FakeDiscord(forum_channels={"issue-posts": ["bug"]}, bot_permissions=BOT_PERMISSIONS | MANAGE_CHANNELS) as fake:
        forum = fake.channel_named("issue-posts")
        async with running_rig(fake, pg_server_dsn, clock, discord_channel_id=int(forum)) as rig:
            await rig.post({"type": "ISSUE_APPROVED", **ISSUE, "title": "Add auth"})
            await rig.post({"type": "HUMAN_GATE_TRIGGERED", **ISSUE, "reason": "touches auth"})
            await tags_become(fake, ["queued", "gate open"])
            names = [t["name"] for t in fake.state.channels[forum]["available_tags"]]
            assert names == ["bug", *MANAGED_TAGS]
            assert len(fake.requests_to("PATCH", f"/channels/{forum}")) == 1  # all in one edit
            board = await fake.wait_for(lambda: next((t for t in fake.threads.values()
                                                      if t["name"] == BOARD_POST_NAME), None), what="the board post")
            assert board["flags"] & 2  # pinned to the top of the forum
            await fake.wait_for(lambda: "touches auth" in fake.messages_in(board["id"])[0]["content"],
                                what="the gate on the board")
            await rig.post({"type": "ISSUE_APPROVED", "repo": REPO, "issueNumber": 1, "milestone": "v1"})
            await rig.post({"type": "ISSUE_DONE", "repo": REPO, "issueNumber": 1})
            # A forum holds posts only: a milestone is announced in the board's post.
            await fake.wait_for(lambda: any(m["content"].startswith("🏆") for m in fake.messages_in(board["id"])),
                                what="the milestone in the board's post")
        assert [t["name"] for t in fake.threads.values()].count(BOARD_POST_NAME) == 1
