-- With the history table gone, history() gives PostgreSQL's own error and
-- reset() still resets the counters.
ALTER EXTENSION pg_walrus DROP TABLE walrus.history;
ALTER EXTENSION pg_walrus DROP SEQUENCE walrus.history_id_seq;
DROP TABLE walrus.history;
\set VERBOSITY terse
SELECT * FROM walrus.history();
\set VERBOSITY default
SELECT walrus.reset();
SELECT walrus.cleanup_history();
\echo :LAST_ERROR_SQLSTATE
SELECT walrus.status() ? 'enabled' AS status_still_works;
DROP EXTENSION pg_walrus;
-- And the extension comes back whole.
CREATE EXTENSION pg_walrus;
SELECT count(*) AS history_rows FROM walrus.history();
DROP EXTENSION pg_walrus;
