"""The read vocabulary's questions are answered from their indexes, in order, at a size where
reading every row and sorting would show: the queue's head and the list pages cost the rows they
answer with, not the table (issue 16). Plans, not timings: what the planner chooses once the
tables hold thousands of documents and have been analysed, as autovacuum would."""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from eventstore.postgres import queries as q
from eventstore.postgres.schema import migrate
from eventstore.postgres.unit_of_work import upsert_documents
from eventstore.projections.issue_status import IssueStatus


def _issue(n: int) -> IssueStatus:
    queued = n % 3 != 0
    return IssueStatus.model_validate({
        "id": f"acme/r{n % 20}#{n}", "repo": f"acme/r{n % 20}", "issueNumber": n, "title": f"issue {n}",
        "priority": ("critical", "high", "normal", "low")[n % 4], "approved": True,
        "state": "queued" if queued else "done", "dependsOn": [n - 7] if n % 7 == 0 and n > 7 else [],
        "approvedAt": f"2026-12-01T{n % 24:02d}:{n % 60:02d}:00.{n:06d}Z",
    })


def _nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    found = [plan]
    for child in plan.get("Plans", []):
        found += _nodes(child)
    return found


async def _plan(conn: asyncpg.Connection, sql: str, *args: Any) -> list[dict[str, Any]]:
    raw = await conn.fetchval("EXPLAIN (FORMAT JSON) " + sql, *args)
    return _nodes((json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"])


async def test_the_queue_head_and_the_list_pages_are_read_in_index_order(db: asyncpg.Pool) -> None:
    issues = [_issue(n) for n in range(1, 6001)]
    async with db.acquire() as conn:
        await upsert_documents(conn, IssueStatus, [(i.id, i) for i in issues])
        await migrate(conn)  # as at a start-up: nothing to do
        await conn.execute("ANALYZE mt_doc_issuestatus")
        for sql, args, index in ((q.QUEUE_HEAD, (1, None), "ce_issuestatus_queue"),
                                 (q.QUEUE_HEAD, (100, "dev-e-1"), "ce_issuestatus_queue"),
                                 (q.QUEUE, (0, 100), "ce_issuestatus_queue"),
                                 (q.ISSUES, (None, None, 0, 100), "ce_issuestatus_listing"),
                                 (q.ISSUES, ("queued", None, 0, 100), "ce_issuestatus_state_listing")):
            plan = await _plan(conn, sql, *args)
            kinds = [node["Node Type"] for node in plan]
            assert "Sort" not in kinds, (sql, kinds)
            assert any(node.get("Index Name") == index for node in plan), (sql, kinds)
        head = await conn.fetch(q.QUEUE_HEAD, 3, None)
    # the order queue.queue_order gives: critical first, then the oldest approval
    assert [r["data"] for r in head] and all('"Priority": "critical"' in r["data"] for r in head)
