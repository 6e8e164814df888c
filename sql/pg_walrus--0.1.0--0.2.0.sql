-- pg_walrus 0.1.0 -> 0.2.0: the replicated record of the primary's size.

-- walrus.primary_size: the max_wal_size the primary runs with, one row,
-- written by the primary's worker when it changes (never every cycle).
-- postgresql.auto.conf is per node and not replicated; this row is, so every
-- standby can run at the primary's size before it is ever promoted.
-- walrus.history is not this record: retention and walrus.reset() delete
-- rows, and most rows were never applied.
CREATE TABLE walrus.primary_size (
    singleton boolean PRIMARY KEY DEFAULT true CONSTRAINT primary_size_one_row CHECK (singleton),
    size_mb integer NOT NULL CONSTRAINT primary_size_size_check CHECK (size_mb >= 2),
    -- The timeline the primary ran on: a node on a newer one of its own was
    -- promoted since, and catches up with size_mb first.
    timeline bigint NOT NULL,
    set_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);

COMMENT ON TABLE walrus.primary_size IS
    'the max_wal_size (MB) the primary runs with, which standbys mirror (walrus.standby_mirror)';

-- Whoever could write this row would steer every standby's max_wal_size:
-- only the worker (a superuser connection) and superusers write it.
REVOKE ALL ON walrus.primary_size FROM PUBLIC;
GRANT SELECT ON walrus.primary_size TO PUBLIC;
