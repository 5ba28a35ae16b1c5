"""DDL: Marten's event-store tables (v9 layout, string stream ids, single tenant) plus our documents.

Everything is idempotent (IF NOT EXISTS), so start-up can run it every time, and a database that
Marten already created keeps working: we only add what is missing and never alter its columns.
Concurrent start-ups are serialised with an advisory lock.
"""

from __future__ import annotations

import hashlib

import asyncpg

from .queries import INDEXES

# Arbitrary, fixed keys for pg_advisory_(xact_)lock; documented so operators can see them in pg_locks.
MIGRATION_LOCK = 0x43_45_4D_49  # "CEMI"
APPEND_LOCK = 0x43_45_41_50  # "CEAP": held by every writing transaction, serialises seq_id order
NOTIFIER_LOCK = 0x43_45_44_4E  # "CEDN": session lock held by the one process that posts to Discord
VALKEY_LOCK = 0x43_45_56_4B  # "CEVK": session lock held by the one process that publishes assignments to Valkey
NOTIFY_CHANNEL = "conductor_e_events"
MIGRATION_TIMEOUT = 3600.0  # seconds per migration statement

DOC_TABLES = ("mt_doc_issuestatus", "mt_doc_agentstatus", "mt_doc_milestonestatus", "mt_doc_executionlog",
              "mt_doc_repolearnings")

_DOC_TABLE = """
CREATE TABLE IF NOT EXISTS {table} (
    id               varchar                  NOT NULL,
    data             jsonb                    NOT NULL,
    mt_last_modified timestamp with time zone NULL DEFAULT (transaction_timestamp()),
    mt_version       uuid                     NOT NULL
                     DEFAULT (md5(random()::text || clock_timestamp()::text)::uuid),
    mt_dotnet_type   varchar                  NULL,
    CONSTRAINT pkey_{table}_id PRIMARY KEY (id)
);
"""

_DOC_UPSERT = """    IF '{table}' = ANY(doc_tables) THEN
        INSERT INTO {table} AS d (id, data, mt_last_modified, mt_dotnet_type)
        SELECT u.e->>1, u.e->3, ts, u.e->>2 FROM jsonb_array_elements(docs) AS u(e) WHERE u.e->>0 = '{table}'
        ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data, mt_last_modified = EXCLUDED.mt_last_modified;
    END IF;
"""

APPEND_FUNCTION = """
-- One batch of appends in one statement (one round trip, committed with it). Like Marten's
-- mt_quick_append_events, versions are computed here, after the lock.
-- The batch arrives as two jsonb arrays, which cost the client far less to encode than one
-- array parameter per column and arrive as jsonb already:
--   events: [stream id, stream type, event id, data, alias, .NET type, fingerprint (hex) or null]
--           per event, in staging order;
--   docs:   [table, document id, .NET type, data] per document to upsert.
-- It answers one row (its OUT parameters): the events' seq_ids and versions in staging order, and
-- the document version before and after the batch.
-- A caller that computed the batch's documents from state it read or cached passes what it saw:
-- expected_docs (the document version, ce_state.doc_version, which every batch that writes
-- documents increments) and, if it also relied on stream versions or stored ids, expected_max
-- (the highest seq_id). If either moved, the batch is refused with SQLSTATE CE001 and the caller
-- redoes it under the lock.
CREATE FUNCTION ce_append_batch(
    expected_max bigint, expected_docs bigint, lock_key bigint, ts timestamptz, events jsonb, docs jsonb,
    OUT seqs bigint[], OUT versions bigint[], OUT docs_before bigint, OUT docs_after bigint)
-- The writer's session plans every statement afresh (its ad-hoc reads must never keep a plan made
-- on empty tables); this function's own statements are safe with cached plans, and replanning
-- them on every call cost PostgreSQL about 40 us per event.
LANGUAGE plpgsql SET plan_cache_mode = auto AS $fn$
DECLARE
    doc_tables text[];
    last_seq bigint;
    done boolean;
BEGIN
    -- "done := f() IS NULL" rather than PERFORM: a plain expression skips starting an executor.
    done := pg_advisory_xact_lock(lock_key) IS NULL;
    IF expected_max IS NOT NULL AND expected_max <> (SELECT coalesce(max(e.seq_id), 0) FROM mt_events e) THEN
        RAISE EXCEPTION 'events were appended since the state was read' USING ERRCODE = 'CE001';
    END IF;
    SELECT s.doc_version INTO docs_before FROM ce_state s WHERE s.id = 1;
    IF expected_docs IS NOT NULL AND expected_docs <> docs_before THEN
        RAISE EXCEPTION 'documents changed since they were read' USING ERRCODE = 'CE001';
    END IF;
    docs_after := docs_before;
    IF jsonb_array_length(docs) > 0 THEN
        UPDATE ce_state s SET doc_version = s.doc_version + 1 WHERE s.id = 1 RETURNING s.doc_version INTO docs_after;
        doc_tables := ARRAY(SELECT DISTINCT u.e->>0 FROM jsonb_array_elements(docs) AS u(e));
    END IF;
    -- Static statements per document table, so PL/pgSQL caches their plans.
{doc_upserts}    -- Stream rows and events in one statement: the foreign key is checked at its end.
    WITH staged AS (
        SELECT u.e->>0 AS st, u.e->>1 AS sk, (u.e->>2)::uuid AS i, u.e->3 AS d, u.e->>4 AS t, u.e->>5 AS dt,
               u.e->>6 AS fp, u.ord,
               coalesce((SELECT s.version FROM mt_streams s WHERE s.id = u.e->>0), 0)
                 + row_number() OVER (PARTITION BY u.e->>0 ORDER BY u.ord) AS v
        FROM jsonb_array_elements(events) WITH ORDINALITY AS u(e, ord)
    ), streams AS (
        INSERT INTO mt_streams AS m (id, type, version, "timestamp", created, tenant_id, is_archived)
        SELECT c.st, max(c.sk), max(c.v), ts, ts, '*DEFAULT*', FALSE FROM staged c GROUP BY c.st
        ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version, "timestamp" = EXCLUDED."timestamp"
        RETURNING 1
    ), inserted AS (
        INSERT INTO mt_events AS e (seq_id, id, stream_id, version, data, type, "timestamp",
                                    tenant_id, mt_dotnet_type, is_archived)
        SELECT nextval('mt_events_sequence'), o.i, o.st, o.v, o.d, o.t, ts, '*DEFAULT*', o.dt, FALSE
        FROM (SELECT * FROM staged c ORDER BY c.ord) AS o   -- nextval in staging order
        RETURNING e.id, e.seq_id, e.version
    ), fingerprints AS (
        INSERT INTO ce_event_fingerprints (id, digest)
        SELECT c.i, decode(c.fp, 'hex') FROM staged c WHERE c.fp IS NOT NULL
    )
    SELECT array_agg(r.seq_id ORDER BY c.ord), array_agg(r.version ORDER BY c.ord), max(r.seq_id)
    INTO seqs, versions, last_seq
    FROM inserted r JOIN staged c ON c.i = r.id;
    done := pg_notify('{notify}', last_seq::text) IS NULL;
END
$fn$;
""".format(doc_upserts="".join(_DOC_UPSERT.format(table=t) for t in DOC_TABLES), notify=NOTIFY_CHANNEL)

# Agents' own diagnostic logs (POST /api/agent-logs): a plain table, not events. They are
# high-volume (every agent posts a batch every few seconds) and worth keeping only for a while,
# while mt_events is the append-only source of truth for coordination state: events are never
# deleted (their streams' versions and every reader's checkpoint rely on that), so a log sink
# there could only grow. Here retention is one indexed DELETE (bot.scheduler, AGENT_LOG_RETENTION_DAYS).
AGENT_LOGS_TABLE = """
CREATE TABLE IF NOT EXISTS ce_agent_logs (
    id          bigint                   GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    agent_id    varchar                  NOT NULL,  -- as sent, a pod's id included (dev-e-1/abc12)
    agent       varchar                  NOT NULL,  -- the agent it belongs to (dev-e-1)
    received_at timestamp with time zone NOT NULL,  -- the service's (the database's) time
    logged_at   jsonb                    NULL,      -- the entry's own timestamp, as sent
    level       varchar                  NOT NULL,
    message     text                     NOT NULL,
    extra       jsonb                    NULL       -- the entry's other fields, as sent
);
CREATE INDEX IF NOT EXISTS ce_agent_logs_agent ON ce_agent_logs (agent, id);
CREATE INDEX IF NOT EXISTS ce_agent_logs_received ON ce_agent_logs (received_at);
"""

# What the Discord side keeps in place (bot.discord.cards, boards; the routes /route sets): the
# message of each issue's status card and of each channel's board, edited on every change and
# never posted twice, and the channel each repo's new threads go to.
DISCORD_LIVE_TABLES = """
CREATE TABLE IF NOT EXISTS ce_discord_cards (
    stream_id  varchar NOT NULL PRIMARY KEY,
    channel_id bigint  NOT NULL,             -- the issue channel (text or forum) its thread is in
    thread_id  bigint  NOT NULL,
    message_id bigint  NOT NULL,
    content    text    NOT NULL DEFAULT '',  -- what it shows, so an edit that changes nothing is skipped
    tags       bigint[] NOT NULL DEFAULT '{}'  -- a forum post's tags as last applied
);
CREATE TABLE IF NOT EXISTS ce_discord_boards (
    channel_id bigint NOT NULL PRIMARY KEY,  -- the issue channel
    thread_id  bigint NOT NULL,              -- where the message is: the channel itself, or a forum's post
    message_id bigint NOT NULL,
    content    text   NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS ce_discord_routes (
    repo       varchar                  NOT NULL PRIMARY KEY,
    channel_id bigint                   NOT NULL,
    set_by     varchar                  NOT NULL,
    set_at     timestamp with time zone NOT NULL
);
"""

DDL = (
    """
CREATE TABLE IF NOT EXISTS mt_streams (
    id          varchar                  NOT NULL,
    type        varchar                  NULL,
    version     bigint                   NULL,
    "timestamp" timestamp with time zone NOT NULL DEFAULT (now()),
    created     timestamp with time zone NOT NULL DEFAULT (now()),
    tenant_id   varchar                  NULL     DEFAULT '*DEFAULT*',
    is_archived bool                     NULL     DEFAULT FALSE,
    CONSTRAINT pkey_mt_streams_id PRIMARY KEY (id)
);
CREATE SEQUENCE IF NOT EXISTS mt_events_sequence;
CREATE TABLE IF NOT EXISTS mt_events (
    seq_id         bigint                   NOT NULL,
    id             uuid                     NOT NULL,
    stream_id      varchar                  NULL,
    version        bigint                   NOT NULL,
    data           jsonb                    NOT NULL,
    bdata          bytea                    NULL,
    type           varchar(500)             NOT NULL,
    "timestamp"    timestamp with time zone NOT NULL DEFAULT (now()),
    tenant_id      varchar                  NULL     DEFAULT '*DEFAULT*',
    mt_dotnet_type varchar                  NULL,
    is_archived    bool                     NULL     DEFAULT FALSE,
    CONSTRAINT pkey_mt_events_seq_id PRIMARY KEY (seq_id),
    CONSTRAINT fkey_mt_events_stream_id FOREIGN KEY (stream_id)
        REFERENCES mt_streams (id) ON DELETE CASCADE
);
ALTER SEQUENCE mt_events_sequence OWNED BY mt_events.seq_id;
CREATE UNIQUE INDEX IF NOT EXISTS pk_mt_events_stream_and_version ON mt_events USING btree (stream_id, version);
-- Marten's own opt-in unique index on the event id (EnableUniqueIndexOnEventId): it is what makes
-- idempotent retries and exactly-once follow-up events safe across processes.
CREATE UNIQUE INDEX IF NOT EXISTS idx_mt_events_event_id ON mt_events USING btree (id);
CREATE TABLE IF NOT EXISTS mt_event_progression (
    name         varchar                  NOT NULL,
    last_seq_id  bigint                   NULL,
    last_updated timestamp with time zone NULL DEFAULT (transaction_timestamp()),
    CONSTRAINT pk_mt_event_progression PRIMARY KEY (name)
);
-- Which Discord thread belongs to which issue stream (ours; not a Marten table).
-- last_seq: the highest sequence of that stream already posted, so a replay after a crash skips it.
CREATE TABLE IF NOT EXISTS ce_discord_threads (
    stream_id  varchar                  NOT NULL PRIMARY KEY,
    thread_id  bigint                   NOT NULL,
    last_seq   bigint                   NOT NULL DEFAULT 0,
    created    timestamp with time zone NOT NULL DEFAULT (now())
);
-- The version of the read-model documents: every batch that writes documents increments it, so a
-- writer can tell whether documents it cached are still current (see ce_append_batch).
CREATE TABLE IF NOT EXISTS ce_state (
    id          int    NOT NULL PRIMARY KEY CHECK (id = 1),
    doc_version bigint NOT NULL
);
INSERT INTO ce_state (id, doc_version) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;
-- Discord messages that carry a gate's buttons, so a decision can edit them later.
CREATE TABLE IF NOT EXISTS ce_discord_messages (
    key        varchar                  NOT NULL PRIMARY KEY,
    channel_id bigint                   NOT NULL,
    message_id bigint                   NOT NULL
);
""",
    AGENT_LOGS_TABLE,
    DISCORD_LIVE_TABLES,
    *(_DOC_TABLE.format(table=t) for t in DOC_TABLES),
    """
-- For events stored under a client-chosen id (eventId, Idempotency-Key): a digest of the event as
-- submitted, so that the same id with a different body is a conflict, not a silent duplicate.
CREATE TABLE IF NOT EXISTS ce_event_fingerprints (
    id     uuid  NOT NULL PRIMARY KEY REFERENCES mt_events (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    digest bytea NOT NULL
);
""",
)

# Inline rollups of the analytics events, so that ``/stats`` reads a few rows instead of scanning
# mt_events (eventstore/postgres/stats.py). A statement trigger keeps them in every appending
# transaction, whoever inserts the events: the totals can never disagree with the log.
ROLLUP_TABLES = ("ce_rollup_tools", "ce_rollup_memory_hits", "ce_rollup_cost")
ROLLUP_DDL = """
CREATE TABLE IF NOT EXISTS ce_rollup_tools (
    repo              text    NOT NULL,  -- '' where the event names none
    tool_name         text    NOT NULL,
    uses              bigint  NOT NULL,
    duration_ms_sum   numeric NOT NULL,
    duration_ms_count bigint  NOT NULL,  -- the uses that reported a duration
    mcp_calls         bigint  NOT NULL,
    PRIMARY KEY (repo, tool_name)
);
CREATE TABLE IF NOT EXISTS ce_rollup_memory_hits (
    agent_id   text   NOT NULL PRIMARY KEY,
    total_hits bigint NOT NULL,
    used_count bigint NOT NULL
);
-- TOKEN_USAGE per agent (scope 'agent', key: the agent id as sent) and per issue (scope 'issue',
-- key: the issue's stream id, for events that name a repository and an issue number above 0).
CREATE TABLE IF NOT EXISTS ce_rollup_cost (
    scope         text    NOT NULL CHECK (scope IN ('agent', 'issue')),
    key           text    NOT NULL,
    input_tokens  bigint  NOT NULL,
    output_tokens bigint  NOT NULL,
    cost_usd      numeric NOT NULL,
    turns         bigint  NOT NULL,
    PRIMARY KEY (scope, key)
);
"""
# Folds a set of events (``{source}``: the trigger's transition table, or mt_events itself when the
# rollups are first filled) into the rollups.
_ROLL_UP = """
    INSERT INTO ce_rollup_tools AS r (repo, tool_name, uses, duration_ms_sum, duration_ms_count, mcp_calls)
    SELECT coalesce(e.data->>'Repo', ''), coalesce(e.data->>'ToolName', ''), count(*),
           coalesce(sum((e.data->>'DurationMs')::bigint), 0), count(e.data->>'DurationMs'),
           count(*) FILTER (WHERE e.data->>'IsMcp' = 'true')
    FROM {source} e WHERE e.type = 'tool_used' GROUP BY 1, 2
    ON CONFLICT (repo, tool_name) DO UPDATE SET uses = r.uses + EXCLUDED.uses,
        duration_ms_sum = r.duration_ms_sum + EXCLUDED.duration_ms_sum,
        duration_ms_count = r.duration_ms_count + EXCLUDED.duration_ms_count,
        mcp_calls = r.mcp_calls + EXCLUDED.mcp_calls;
    INSERT INTO ce_rollup_memory_hits AS r (agent_id, total_hits, used_count)
    SELECT coalesce(e.data->>'AgentId', ''), count(*), count(*) FILTER (WHERE e.data->>'UsedInOutput' = 'true')
    FROM {source} e WHERE e.type = 'memory_hit_used' GROUP BY 1
    ON CONFLICT (agent_id) DO UPDATE SET total_hits = r.total_hits + EXCLUDED.total_hits,
        used_count = r.used_count + EXCLUDED.used_count;
    INSERT INTO ce_rollup_cost AS r (scope, key, input_tokens, output_tokens, cost_usd, turns)
    SELECT u.scope, u.key, coalesce(sum(u.i), 0), coalesce(sum(u.o), 0), coalesce(sum(u.c), 0), count(*)
    FROM (SELECT 'agent' AS scope, coalesce(e.data->>'AgentId', '') AS key, (e.data->>'InputTokens')::bigint AS i,
                 (e.data->>'OutputTokens')::bigint AS o, (e.data->>'CostUsd')::numeric AS c
          FROM {source} e WHERE e.type = 'token_usage'
          UNION ALL
          SELECT 'issue', e.stream_id, (e.data->>'InputTokens')::bigint, (e.data->>'OutputTokens')::bigint,
                 (e.data->>'CostUsd')::numeric
          FROM {source} e WHERE e.type = 'token_usage' AND coalesce(e.data->>'Repo', '') <> ''
                            AND (e.data->>'IssueNumber')::int > 0) AS u
    GROUP BY u.scope, u.key
    ON CONFLICT (scope, key) DO UPDATE SET input_tokens = r.input_tokens + EXCLUDED.input_tokens,
        output_tokens = r.output_tokens + EXCLUDED.output_tokens, cost_usd = r.cost_usd + EXCLUDED.cost_usd,
        turns = r.turns + EXCLUDED.turns;
"""
ROLLUP_FUNCTION = """
CREATE OR REPLACE FUNCTION ce_roll_up_analytics() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
{roll_up}    RETURN NULL;
END
$fn$;
""".format(roll_up=_ROLL_UP.format(source="appended"))
ROLLUP_TRIGGER = """
CREATE TRIGGER ce_roll_up_analytics AFTER INSERT ON mt_events
REFERENCING NEW TABLE AS appended FOR EACH STATEMENT EXECUTE FUNCTION ce_roll_up_analytics()
"""
FILL_ROLLUPS = "TRUNCATE " + ", ".join(ROLLUP_TABLES) + ";" + _ROLL_UP.format(source="mt_events")
ROLLUP_VERSION = "conductor-e " + hashlib.sha256((ROLLUP_DDL + ROLLUP_FUNCTION).encode()).hexdigest()[:16]

# Statistics on JSON expressions, which plain column statistics do not cover. The seed's analytics
# queries group mt_events by JSON fields: without these the planner guesses thousands of groups and
# sorts every tool_used row (spilling to disk at 1M events) instead of hashing a few hundred. The
# queue's head is read in index order only when the planner knows how many issues are queued and
# unassigned: guessing a few, it fetches them all and sorts (BENCHMARKS.md, "Scale").
EXPRESSION_STATISTICS = {
    "ce_stats_tool_groups": ("mt_events", "CREATE STATISTICS IF NOT EXISTS ce_stats_tool_groups (ndistinct) "
                                          "ON (data->>'Repo'), (data->>'ToolName') FROM mt_events"),
    "ce_stats_agent_groups": ("mt_events", "CREATE STATISTICS IF NOT EXISTS ce_stats_agent_groups (ndistinct) "
                                           "ON (data->>'AgentId'), type FROM mt_events"),
    "ce_stats_issue_offer": ("mt_doc_issuestatus", "CREATE STATISTICS IF NOT EXISTS ce_stats_issue_offer "
                                                   "ON (data->>'State'), (data->>'AssignedAgent') "
                                                   "FROM mt_doc_issuestatus"),
}


# Marten's own function: created when missing, never replaced (Marten's has the same contract).
MARK_PROGRESSION_FUNCTION = """
CREATE FUNCTION mt_mark_event_progression(name varchar, last_encountered bigint)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO mt_event_progression (name, last_seq_id, last_updated)
  VALUES (name, last_encountered, transaction_timestamp())
  ON CONFLICT ON CONSTRAINT pk_mt_event_progression
  DO UPDATE SET last_seq_id = EXCLUDED.last_seq_id, last_updated = transaction_timestamp();
END $$;
"""
# Ours, identified by a digest of its definition in its comment: recreated only when that changed.
APPEND_FUNCTION_VERSION = "conductor-e " + hashlib.sha256(APPEND_FUNCTION.encode()).hexdigest()[:16]


# Indexes an earlier version made that another now replaces (ce_issuestatus_state_listing).
OBSOLETE_INDEXES = ("ce_issuestatus_state",)

# Everything the DDL makes, to tell at a glance whether there is anything to do.
_RELATIONS = ("mt_streams", "mt_events_sequence", "mt_events", "pk_mt_events_stream_and_version",
              "idx_mt_events_event_id", "mt_event_progression", "ce_discord_threads", "ce_state",
              "ce_discord_messages", *DOC_TABLES, "ce_event_fingerprints", "ce_agent_logs",
              "ce_agent_logs_agent", "ce_agent_logs_received", *ROLLUP_TABLES, "ce_discord_cards",
              "ce_discord_boards", "ce_discord_routes")
_COMPLETE = """
SELECT NOT EXISTS (SELECT 1 FROM unnest($1::text[]) AS r(name) WHERE to_regclass(r.name) IS NULL)
   AND EXISTS (SELECT 1 FROM ce_state WHERE id = 1)
   AND EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'mt_mark_event_progression')
   AND ARRAY(SELECT obj_description(oid, 'pg_proc') FROM pg_proc WHERE proname = 'ce_append_batch') = ARRAY[$2]
   AND ARRAY(SELECT obj_description(oid, 'pg_proc') FROM pg_proc WHERE proname = 'ce_roll_up_analytics') = ARRAY[$3]
   AND EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'ce_roll_up_analytics' AND tgrelid = 'mt_events'::regclass)
   AND (current_setting('server_version_num')::int < 140000
        OR (SELECT count(*) FROM pg_statistic_ext WHERE stxname = ANY($4::text[])) = cardinality($4::text[]))
"""


async def is_complete(conn: asyncpg.Connection) -> bool:
    """Whether everything this version makes is in place (only reads the catalog)."""
    relations = [*_RELATIONS, *(name for name, _ in _index_statements())]
    return bool(await conn.fetchval("SELECT to_regclass('ce_state') IS NOT NULL")
                and await conn.fetchval(_COMPLETE, relations, APPEND_FUNCTION_VERSION, ROLLUP_VERSION,
                                        list(EXPRESSION_STATISTICS)))


async def migrate(conn: asyncpg.Connection) -> None:
    """Create whatever is missing. Safe to run from several processes at once, and beside a
    running service: when nothing is missing (every start-up but the first of a version) it only
    reads the catalog, so it never locks, drops or recreates what an append in flight is using."""
    if await is_complete(conn):
        return
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK, timeout=MIGRATION_TIMEOUT)
        for statement in DDL:
            # Not the pool's statement timeout: an index built on a large table may take minutes.
            await conn.execute(statement, timeout=MIGRATION_TIMEOUT)
        for name, statement in _index_statements():
            # CREATE INDEX IF NOT EXISTS would lock the table (blocking writes) before finding the index.
            if await conn.fetchval("SELECT to_regclass($1) IS NULL", name):
                await conn.execute(statement, timeout=MIGRATION_TIMEOUT)
        for name in OBSOLETE_INDEXES:  # replaced by another; keeping it would only slow every write
            if await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", name):
                await conn.execute(f"DROP INDEX {name}")
        if not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'mt_mark_event_progression')"):
            await conn.execute(MARK_PROGRESSION_FUNCTION)
        current = await conn.fetch("SELECT oid::regprocedure::text AS f, obj_description(oid, 'pg_proc') AS note "
                                   "FROM pg_proc WHERE proname = 'ce_append_batch'")
        if [r["note"] for r in current] != [APPEND_FUNCTION_VERSION]:
            for row in current:  # an earlier version, or another signature of it
                await conn.execute(f"DROP FUNCTION {row['f']}")
            await conn.execute(APPEND_FUNCTION)
            await conn.execute(f"COMMENT ON FUNCTION ce_append_batch IS '{APPEND_FUNCTION_VERSION}'")
        await _migrate_rollups(conn)
        await _create_expression_statistics(conn)


async def _migrate_rollups(conn: asyncpg.Connection) -> None:
    """Create the rollups, or recreate them when their definition changed, filled from mt_events.
    Under the append lock: an append waiting for it inserts after this commits, when the trigger is
    in place, so every event is counted exactly once (by the fill or by the trigger)."""
    note = await conn.fetchval("SELECT obj_description(oid, 'pg_proc') FROM pg_proc "
                               "WHERE proname = 'ce_roll_up_analytics'")
    has_trigger = await conn.fetchval("SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'ce_roll_up_analytics' "
                                      "AND tgrelid = 'mt_events'::regclass)")
    if note == ROLLUP_VERSION and has_trigger and await conn.fetchval(
            "SELECT bool_and(to_regclass(t) IS NOT NULL) FROM unnest($1::text[]) AS t", list(ROLLUP_TABLES)):
        return
    await conn.execute("SELECT pg_advisory_xact_lock($1)", APPEND_LOCK, timeout=MIGRATION_TIMEOUT)
    if note != ROLLUP_VERSION:  # derived data: an older layout is dropped, not altered
        await conn.execute("DROP TABLE IF EXISTS " + ", ".join(ROLLUP_TABLES))
    await conn.execute(ROLLUP_DDL)
    await conn.execute(ROLLUP_FUNCTION)
    if not has_trigger:
        await conn.execute(ROLLUP_TRIGGER)
    await conn.execute(FILL_ROLLUPS, timeout=MIGRATION_TIMEOUT)
    await conn.execute(f"COMMENT ON FUNCTION ce_roll_up_analytics() IS '{ROLLUP_VERSION}'")


async def _create_expression_statistics(conn: asyncpg.Connection) -> None:
    if await conn.fetchval("SELECT current_setting('server_version_num')::int") < 140000:
        return  # statistics on expressions came with PostgreSQL 14; older servers plan without them
    analyse: set[str] = set()
    for name, (table, sql) in EXPRESSION_STATISTICS.items():
        if not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM pg_statistic_ext WHERE stxname = $1)", name):
            await conn.execute(sql)
            analyse.add(table)
    for table in sorted(analyse):  # filled by ANALYZE (a sample, seconds at most); autovacuum keeps them current
        await conn.execute(f"ANALYZE {table}", timeout=MIGRATION_TIMEOUT)


def _index_statements() -> list[tuple[str, str]]:
    """(index name, its CREATE INDEX statement) for each of ``queries.INDEXES``."""
    statements = [s.strip() for s in INDEXES.split(";") if s.strip()]
    return [(s.split("IF NOT EXISTS", 1)[1].split()[0], s) for s in statements]
