-- walrus.status(): the original keys and their JSON types.
SELECT key,
       CASE WHEN key IN ('last_check_time', 'last_adjustment_time', 'disk_last_check_time', 'mirrored_at', 'promoted_at')
            THEN jsonb_typeof(value) IN ('string', 'null')
            ELSE NULL END AS time_or_null,
       CASE WHEN key NOT IN ('last_check_time', 'last_adjustment_time', 'disk_last_check_time', 'mirrored_at', 'promoted_at')
            THEN jsonb_typeof(value) END AS type
FROM jsonb_each(walrus.status())
ORDER BY key;
SELECT walrus.status() @> '{"enabled": true, "configured_maximum_mb": 4096, "threshold": 2,
                            "shrink_enabled": true, "shrink_factor": 0.75, "shrink_intervals": 5,
                            "min_size_mb": 1024, "worker_running": true, "database": "postgres",
                            "strategy": "multiplicative", "in_recovery": false, "mode": "auto"}' AS defaults_reported;
SELECT (walrus.status()->>'current_max_wal_size_mb')::int = setting::int AS current_size_is_live
FROM pg_settings WHERE name = 'max_wal_size';
SELECT (walrus.status()->>'checkpoint_timeout_sec')::int = setting::int AS timeout_is_live
FROM pg_settings WHERE name = 'checkpoint_timeout';
-- The WAL disk guard has measured by the worker's first cycle, and its
-- ceiling is whole 16 MB segments.
SELECT (walrus.status()->>'disk_measured')::bool AS disk_measured,
       (walrus.status()->>'disk_ceiling_mb')::int % 16 = 0 AS whole_segments,
       (walrus.status()->>'effective_ceiling_mb')::int
         = least(4096, (walrus.status()->>'disk_ceiling_mb')::int) AS effective_is_the_lower;
-- Times are ISO 8601 UTC with microseconds.
SELECT walrus.status()->>'last_check_time' ~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$' AS iso8601;

-- walrus.recommendation(): keys, types, allowed actions, confidence range.
SELECT key, jsonb_typeof(value) AS type FROM jsonb_each(walrus.recommendation()) ORDER BY key;
SELECT walrus.recommendation()->>'action' IN ('increase', 'decrease', 'none', 'capped', 'error') AS known_action,
       (walrus.recommendation()->>'confidence')::int BETWEEN 0 AND 100 AS confidence_in_range,
       (walrus.recommendation()->>'current_size_mb')::int = (walrus.status()->>'current_max_wal_size_mb')::int AS same_size;

-- walrus.analyze(): the recommendation, not applied.
SELECT key, jsonb_typeof(value) AS type FROM jsonb_each(walrus.analyze()) ORDER BY key;
SELECT walrus.analyze()->'applied' AS applied, walrus.analyze(false)->'analyzed' AS analyzed;
-- Applying refuses transaction blocks, as ALTER SYSTEM does.
BEGIN;
SELECT walrus.analyze(apply := true);
ROLLBACK;

-- walrus.history(): the seed's columns, empty until a decision is made.
SELECT * FROM walrus.history();
SELECT count(*) AS rows_before_any_decision FROM walrus.history;

-- walrus.shmem_status(): the raw shared-memory counters.
SELECT key FROM jsonb_each(walrus.shmem_status()) ORDER BY key;
SELECT (walrus.shmem_status()->>'worker_pid')::int = pid AS worker_pid_matches
FROM pg_stat_activity WHERE backend_type = 'pg_walrus';

-- walrus.cleanup_history() returns how many rows went.
INSERT INTO walrus.history ("timestamp", action, old_size_mb, new_size_mb, forced_checkpoints, checkpoint_timeout_sec, reason)
VALUES (now() - interval '40 days', 'increase', 64, 192, 2, 30, 'old'),
       (now(), 'increase', 192, 576, 2, 30, 'recent');
SELECT walrus.cleanup_history() AS deleted;
SELECT reason FROM walrus.history();
-- The action column only takes the documented values (terse: the DETAIL
-- would print the row's timestamp).
\set VERBOSITY terse
INSERT INTO walrus.history (action, old_size_mb, new_size_mb, forced_checkpoints, checkpoint_timeout_sec)
VALUES ('grow', 1, 2, 0, 30);
\set VERBOSITY default

-- walrus.reset() clears history and counters.
SELECT walrus.reset();
SELECT count(*) AS rows_after_reset FROM walrus.history;
SELECT walrus.status() @> '{"total_adjustments": 0, "quiet_intervals": 0, "last_adjustment_time": null}' AS counters_cleared;
