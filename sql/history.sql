-- walrus.history: one row per decision that changed, or tried to change,
-- max_wal_size. Written by the worker (in walrus.database) and by
-- walrus.analyze(apply := true) (in the database it is called in).
CREATE TABLE walrus.history (
    id bigserial PRIMARY KEY,
    "timestamp" timestamptz NOT NULL DEFAULT pg_catalog.now(),
    action text NOT NULL
        CONSTRAINT history_action_check
        CHECK (action IN ('increase', 'decrease', 'capped', 'dry_run', 'skipped', 'failed')),
    old_size_mb integer NOT NULL,
    new_size_mb integer NOT NULL,
    forced_checkpoints bigint NOT NULL,
    checkpoint_timeout_sec integer NOT NULL,
    reason text,
    metadata jsonb
);
CREATE INDEX history_timestamp_idx ON walrus.history ("timestamp");

COMMENT ON TABLE walrus.history IS 'pg_walrus sizing decisions, oldest first';
COMMENT ON COLUMN walrus.history.action IS
    'increase, decrease, capped (grown only to walrus.max), dry_run, skipped (rate limit, recommend-only) or failed (ALTER SYSTEM raised an error)';
COMMENT ON COLUMN walrus.history.forced_checkpoints IS
    'requested checkpoints counted in the interval that led to the decision (since the baseline, for walrus.analyze)';
COMMENT ON COLUMN walrus.history.checkpoint_timeout_sec IS 'checkpoint_timeout when the decision was made: the interval length';
COMMENT ON COLUMN walrus.history.metadata IS 'the evidence: strategy, thresholds, computed size, applied or error';

-- pg_dump keeps the rows, and the sequence position so that new rows after a
-- restore do not collide with restored ones.
SELECT pg_catalog.pg_extension_config_dump('walrus.history', '');
SELECT pg_catalog.pg_extension_config_dump('walrus.history_id_seq', '');

-- Anyone may read the story; only the extension's code writes it.
REVOKE ALL ON walrus.history FROM PUBLIC;
GRANT SELECT ON walrus.history TO PUBLIC;

-- A SQL function, so that a dropped table gives PostgreSQL's own
-- 'relation "walrus.history" does not exist' at call time.
CREATE FUNCTION walrus.history()
RETURNS TABLE (
    "timestamp" timestamptz,
    action text,
    old_size_mb integer,
    new_size_mb integer,
    forced_checkpoints bigint,
    reason text
)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT h."timestamp", h.action, h.old_size_mb, h.new_size_mb, h.forced_checkpoints, h.reason
    FROM walrus.history AS h
    ORDER BY h."timestamp", h.id
$$;
COMMENT ON FUNCTION walrus.history() IS 'pg_walrus decisions, oldest first';
