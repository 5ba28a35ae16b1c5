"""DDL: Marten's event-store tables (v9 layout, string stream ids, single tenant) plus our documents.

Everything is idempotent (IF NOT EXISTS), so start-up can run it every time, and a database that
Marten already created keeps working: we only add what is missing and never alter its columns.
Concurrent start-ups are serialised with an advisory lock.
"""

from __future__ import annotations

import asyncpg

# Arbitrary, fixed keys for pg_advisory_(xact_)lock; documented so operators can see them in pg_locks.
MIGRATION_LOCK = 0x43_45_4D_49  # "CEMI"
APPEND_LOCK = 0x43_45_41_50  # "CEAP": held by every writing transaction, serialises seq_id order
NOTIFIER_LOCK = 0x43_45_44_4E  # "CEDN": session lock held by the one process that posts to Discord
NOTIFY_CHANNEL = "conductor_e_events"

DOC_TABLES = ("mt_doc_issuestatus", "mt_doc_agentstatus", "mt_doc_milestonestatus")

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
CREATE OR REPLACE FUNCTION mt_mark_event_progression(name varchar, last_encountered bigint)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO mt_event_progression (name, last_seq_id, last_updated)
  VALUES (name, last_encountered, transaction_timestamp())
  ON CONFLICT ON CONSTRAINT pk_mt_event_progression
  DO UPDATE SET last_seq_id = EXCLUDED.last_seq_id, last_updated = transaction_timestamp();
END $$;
-- Which Discord thread belongs to which issue stream (ours; not a Marten table).
-- last_seq: the highest sequence of that stream already posted, so a replay after a crash skips it.
CREATE TABLE IF NOT EXISTS ce_discord_threads (
    stream_id  varchar                  NOT NULL PRIMARY KEY,
    thread_id  bigint                   NOT NULL,
    last_seq   bigint                   NOT NULL DEFAULT 0,
    created    timestamp with time zone NOT NULL DEFAULT (now())
);
-- Discord messages that carry a gate's buttons, so a decision can edit them later.
CREATE TABLE IF NOT EXISTS ce_discord_messages (
    key        varchar                  NOT NULL PRIMARY KEY,
    channel_id bigint                   NOT NULL,
    message_id bigint                   NOT NULL
);
""",
    *(_DOC_TABLE.format(table=t) for t in DOC_TABLES),
)


async def migrate(conn: asyncpg.Connection) -> None:
    """Create whatever is missing. Safe to run from several processes at once."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
        for statement in DDL:
            await conn.execute(statement)
