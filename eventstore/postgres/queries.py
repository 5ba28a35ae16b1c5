"""The read vocabulary's SQL (``eventstore.read_models.DocumentQueries``), next to its indexes.

Shared by the read models (the pool) and the unit of work (a decision's own transaction). Each
statement filters and orders in PostgreSQL, so a question costs the rows it answers with, not the
size of the table: the queue's head comes with a LIMIT and the dependency check inside the query.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg
from pydantic import BaseModel

from ..activity import ACTIVITY_TYPES
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

# Issues by repo (code point order, as Python compares), then number: the pages' order and index.
_ISSUE_ORDER = """((data->>'Repo') COLLATE "C"), ((data->>'IssueNumber')::int)"""

# Runs newest first: StartedAt is stored in one fixed-width UTC form (projections.SortableTime),
# so its text sorts as its time; the id (a time-ordered UUID) breaks ties.
_RUN_ORDER = """((data->>'StartedAt') COLLATE "C"), (id COLLATE "C")"""

# Indexes for the questions below (created by the migration; idempotent).
INDEXES = f"""
CREATE INDEX IF NOT EXISTS ce_issuestatus_queue ON mt_doc_issuestatus ({_QUEUE_KEYS}) WHERE {_OFFERABLE};
CREATE INDEX IF NOT EXISTS ce_issuestatus_open_gate ON mt_doc_issuestatus (id)
    WHERE (data->'Gate'->>'Open')::boolean;
CREATE INDEX IF NOT EXISTS ce_issuestatus_listing ON mt_doc_issuestatus ({_ISSUE_ORDER});
CREATE INDEX IF NOT EXISTS ce_issuestatus_state_listing ON mt_doc_issuestatus ((data->>'State'), {_ISSUE_ORDER});
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
CREATE INDEX IF NOT EXISTS ce_events_timestamp ON mt_events USING brin ("timestamp") WITH (autosummarize = on);
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
SELECT data::text AS data FROM mt_doc_issuestatus d WHERE {_offerable_where(None)}
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
# Pages: the rows from OFFSET $n, at most LIMIT $n+1 (NULL: all), read in an index's order; the
# count of all is a statement of its own (a window count would read every row for any page).
ISSUES = f"""
SELECT data::text AS data FROM mt_doc_issuestatus
WHERE ($1::text IS NULL OR data->>'State' = $1) AND ($2::text IS NULL OR data->>'Repo' = $2)
ORDER BY {_ISSUE_ORDER}
OFFSET $3 LIMIT $4
"""
ISSUES_COUNT = """
SELECT count(*) AS total FROM mt_doc_issuestatus
WHERE ($1::text IS NULL OR data->>'State' = $1) AND ($2::text IS NULL OR data->>'Repo' = $2)
"""
AGENTS = """
SELECT data::text AS data FROM mt_doc_agentstatus ORDER BY id COLLATE "C" OFFSET $1 LIMIT $2
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
SELECT (data - 'Logs')::text AS data FROM mt_doc_executionlog {where}
ORDER BY ((data->>'StartedAt') COLLATE "C") DESC, (id COLLATE "C") DESC OFFSET ${n + 1} LIMIT ${n + 2}
"""
    return page, f"SELECT count(*) AS total FROM mt_doc_executionlog {where}", args


# The activity and cost of a period (eventstore.activity), by the events' timestamps. mt_events is
# appended in time order, so a BRIN index on "timestamp" (ce_events_timestamp, above: a few pages
# for the whole log, and next to nothing to keep up on each append, which matters on the hot append
# path) narrows a period to the heap pages written in it; a digest reads a day's pages once a day.
# A merge's PR opening and a decision's gate opening are looked up in the event's own stream, by
# the (stream_id, version) index.
ACTIVITY = f"""
SELECT e.type AS kind, e.stream_id, e."timestamp" AS at,
       CASE WHEN e.type = 'merged' THEN
                (SELECT CASE WHEN e.data->>'PrNumber' IS NULL THEN max(p."timestamp") ELSE min(p."timestamp") END
                 FROM mt_events p
                 WHERE p.stream_id = e.stream_id AND p.version < e.version AND p.type = 'pr_created'
                   AND (e.data->>'PrNumber' IS NULL OR p.data->>'PrNumber' = e.data->>'PrNumber'))
            WHEN e.type IN ('human_gate_approved', 'human_gate_rejected') THEN
                (SELECT t."timestamp" FROM mt_events t
                 WHERE t.stream_id = e.stream_id AND t.version < e.version AND t.type = 'human_gate_triggered'
                 ORDER BY t.version DESC LIMIT 1)
       END AS began
FROM mt_events e
WHERE e."timestamp" >= $1 AND e."timestamp" < $2 AND e.type IN {tuple(ACTIVITY_TYPES)!r}
ORDER BY e.seq_id
"""
# Pods count as their agent (the part before the first '/', as agents.agent_of).
COST_BETWEEN = """
SELECT k.scope, k.key, sum(u.i) AS input_tokens, sum(u.o) AS output_tokens, sum(u.c) AS cost_usd, count(*) AS turns
FROM (SELECT split_part(coalesce(data->>'AgentId', ''), '/', 1) AS agent, coalesce(data->>'Repo', '') AS repo,
             coalesce((data->>'InputTokens')::bigint, 0) AS i, coalesce((data->>'OutputTokens')::bigint, 0) AS o,
             coalesce((data->>'CostUsd')::numeric, 0) AS c
      FROM mt_events WHERE "timestamp" >= $1 AND "timestamp" < $2 AND type = 'token_usage') AS u
CROSS JOIN LATERAL (VALUES ('agent', u.agent), ('repo', u.repo)) AS k(scope, key)
GROUP BY k.scope, k.key
ORDER BY k.scope, sum(u.c) DESC, k.key COLLATE "C"
"""


async def docs_from(fetch: Fetch, model: type[D], sql: str, *args: Any) -> list[D]:
    return [load_doc(model, r["data"]) for r in await fetch(sql, *args)]


async def page_of(fetch: Fetch, model: type[D], sql: str, args: tuple[Any, ...], offset: int,
                  count_sql: str, count_args: tuple[Any, ...]) -> Listing[D]:
    """A page from ``sql`` and the count of all from ``count_sql``, asked at once (each on a
    connection of its own when ``fetch`` is the pool's)."""
    rows, counted = await asyncio.gather(fetch(sql, *args), fetch(count_sql, *count_args))
    return Listing([load_doc(model, r["data"]) for r in rows], int(counted[0]["total"]), offset)
