"""The read vocabulary's SQL (``eventstore.read_models.DocumentQueries``), next to its indexes.

Shared by the read models (the pool) and the unit of work (a decision's own transaction). Each
statement filters and orders in PostgreSQL, so a question costs the rows it answers with, not the
size of the table: the queue's head comes with a LIMIT and the dependency check inside the query.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg
from pydantic import BaseModel

from ..read_models import Listing
from .documents import load_doc

D = TypeVar("D", bound=BaseModel)

Fetch = Callable[..., Awaitable[list[asyncpg.Record]]]

# The hand-out order of queue.queue_order: priority rank, oldest approval (ApprovedAt is stored in
# one fixed-width UTC form, so its text sorts as its time: projections.SortableTime), repo (by code
# point, as Python compares), number. The same expressions as the index below, so the queue's head
# is read from the index in order and the scan stops at the LIMIT.
_QUEUE_KEYS = """
    (CASE data->>'Priority' WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'low' THEN 3 ELSE 2 END),
    (coalesce(data->>'ApprovedAt', '') COLLATE "C"),
    ((data->>'Repo') COLLATE "C"),
    ((data->>'IssueNumber')::int)
"""
_OFFERABLE = "data->>'State' = 'queued' AND data->>'AssignedAgent' IS NULL"

# Runs newest first: StartedAt is stored in one fixed-width UTC form (projections.SortableTime),
# so its text sorts as its time; the id (a time-ordered UUID) breaks ties.
_RUN_ORDER = """((data->>'StartedAt') COLLATE "C"), (id COLLATE "C")"""

# Indexes for the questions below (created by the migration; idempotent).
INDEXES = f"""
CREATE INDEX IF NOT EXISTS ce_issuestatus_queue ON mt_doc_issuestatus ({_QUEUE_KEYS}) WHERE {_OFFERABLE};
CREATE INDEX IF NOT EXISTS ce_issuestatus_open_gate ON mt_doc_issuestatus (id)
    WHERE (data->'Gate'->>'Open')::boolean;
CREATE INDEX IF NOT EXISTS ce_issuestatus_state ON mt_doc_issuestatus ((data->>'State'), (data->>'Repo'));
CREATE INDEX IF NOT EXISTS ce_issuestatus_pr ON mt_doc_issuestatus ((data->>'Repo'), (data->>'PrNumber'))
    WHERE data->>'PrNumber' IS NOT NULL;
CREATE INDEX IF NOT EXISTS ce_agentstatus_assigned ON mt_doc_agentstatus (id)
    WHERE data->>'Assignment' IS NOT NULL;
CREATE INDEX IF NOT EXISTS ce_agentstatus_stuck ON mt_doc_agentstatus (id)
    WHERE data->>'StuckSince' IS NOT NULL;
CREATE INDEX IF NOT EXISTS ce_executionlog_started ON mt_doc_executionlog ({_RUN_ORDER});
CREATE INDEX IF NOT EXISTS ce_executionlog_issue ON mt_doc_executionlog
    ((data->>'Repo'), ((data->>'IssueNumber')::int), {_RUN_ORDER});
CREATE INDEX IF NOT EXISTS ce_executionlog_agent ON mt_doc_executionlog ((data->>'Agent'), {_RUN_ORDER});
"""

def _offerable_where(stuck: str | None) -> str:
    """Offerable issues; ``stuck``: the parameter naming an agent whose stuck issues are left out."""
    leave_out = f"AND ({stuck}::text IS NULL OR NOT coalesce(data->'StuckAgents', '[]'::jsonb) ? {stuck})" if stuck else ""
    return f"""{_OFFERABLE}
  AND coalesce((data->>'Approved')::boolean, false) {leave_out}
  AND NOT EXISTS (
      SELECT 1 FROM jsonb_array_elements_text(coalesce(d.data->'DependsOn', '[]'::jsonb)) AS dep(n)
      WHERE NOT EXISTS (SELECT 1 FROM mt_doc_issuestatus x
                        WHERE x.id = (d.data->>'Repo') || '#' || dep.n AND x.data->>'State' = 'done'))"""


QUEUE_HEAD = f"""
SELECT data::text AS data FROM mt_doc_issuestatus d WHERE {_offerable_where("$2")}
ORDER BY {_QUEUE_KEYS} LIMIT $1
"""
QUEUE = f"""
SELECT data::text AS data, count(*) OVER () AS total FROM mt_doc_issuestatus d WHERE {_offerable_where(None)}
ORDER BY {_QUEUE_KEYS} OFFSET $1 LIMIT $2
"""
QUEUE_COUNT = f"SELECT count(*) AS total FROM mt_doc_issuestatus d WHERE {_offerable_where(None)}"
OPEN_GATES = """
SELECT data::text AS data FROM mt_doc_issuestatus WHERE (data->'Gate'->>'Open')::boolean ORDER BY id
"""
ASSIGNEES = """
SELECT data::text AS data FROM mt_doc_agentstatus WHERE data->>'Assignment' IS NOT NULL ORDER BY id
"""
STUCK_AGENTS = """
SELECT data::text AS data FROM mt_doc_agentstatus WHERE data->>'StuckSince' IS NOT NULL ORDER BY id COLLATE "C"
"""
# Pages: the rows from OFFSET $n, at most LIMIT $n+1 (NULL: all), each with the count of all.
ISSUES = """
SELECT data::text AS data, count(*) OVER () AS total FROM mt_doc_issuestatus
WHERE ($1::text IS NULL OR data->>'State' = $1) AND ($2::text IS NULL OR data->>'Repo' = $2)
ORDER BY data->>'Repo' COLLATE "C", (data->>'IssueNumber')::int
OFFSET $3 LIMIT $4
"""
ISSUES_COUNT = """
SELECT count(*) AS total FROM mt_doc_issuestatus
WHERE ($1::text IS NULL OR data->>'State' = $1) AND ($2::text IS NULL OR data->>'Repo' = $2)
"""
AGENTS = """
SELECT data::text AS data, count(*) OVER () AS total FROM mt_doc_agentstatus
ORDER BY id COLLATE "C" OFFSET $1 LIMIT $2
"""
AGENTS_COUNT = "SELECT count(*) AS total FROM mt_doc_agentstatus"

# PrNumber compared as text: no cast that a document stored by another writer could fail.
ISSUES_WITH_PR = """
SELECT data::text AS data FROM mt_doc_issuestatus WHERE data->>'Repo' = $1 AND data->>'PrNumber' = $2
ORDER BY id COLLATE "C"
"""
AGENT = "SELECT data::text AS data FROM mt_doc_agentstatus WHERE id = $1"
ISSUE = "SELECT data::text AS data FROM mt_doc_issuestatus WHERE id = $1"
EXECUTION = "SELECT data::text AS data FROM mt_doc_executionlog WHERE id = $1"
REPO_LEARNINGS = "SELECT data::text AS data FROM mt_doc_repolearnings WHERE id = $1"


def executions(repo: str | None, issue_number: int | None, agent: str | None,
               agent_id: str | None) -> tuple[str, str, list[Any]]:
    """The page and count statements for runs, newest first, and their filter's arguments (the
    page's OFFSET and LIMIT follow them). Only the filters given are in the statement, so each
    combination has a plan of its own that uses its index (``ce_executionlog_*``). Pages leave out
    the runs' log lines (``data - 'Logs'``): a list shows runs, one run shows its lines."""
    conditions: list[str] = []
    args: list[Any] = []
    for expression, value in (("data->>'Repo'", repo), ("(data->>'IssueNumber')::int", issue_number),
                              ("data->>'Agent'", agent), ("data->>'AgentId'", agent_id)):
        if value is not None:
            args.append(value)
            conditions.append(f"{expression} = ${len(args)}")
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    n = len(args)
    page = f"""
SELECT (data - 'Logs')::text AS data, count(*) OVER () AS total FROM mt_doc_executionlog {where}
ORDER BY ((data->>'StartedAt') COLLATE "C") DESC, (id COLLATE "C") DESC OFFSET ${n + 1} LIMIT ${n + 2}
"""
    return page, f"SELECT count(*) AS total FROM mt_doc_executionlog {where}", args



async def docs_from(fetch: Fetch, model: type[D], sql: str, *args: Any) -> list[D]:
    return [load_doc(model, r["data"]) for r in await fetch(sql, *args)]


async def page_of(fetch: Fetch, model: type[D], sql: str, args: tuple[Any, ...], offset: int,
                  count_sql: str, count_args: tuple[Any, ...]) -> Listing[D]:
    """A page from ``sql`` (which yields ``data`` and ``total``); past the end, ``count_sql`` says how many."""
    rows = await fetch(sql, *args)
    if rows:
        return Listing([load_doc(model, r["data"]) for r in rows], int(rows[0]["total"]), offset)
    total = 0 if offset == 0 else int((await fetch(count_sql, *count_args))[0]["total"])
    return Listing([], total, offset)
