-- walrus.algorithm offers exactly the compiled strategies.
SELECT enumvals FROM pg_settings WHERE name = 'walrus.algorithm';
ALTER SYSTEM SET walrus.algorithm = 'fibonacci';
-- Every compiled strategy, side by side; the active one marked.
SELECT strategy, active, action IN ('increase', 'capped', 'decrease', 'none') AS known_action,
       confidence BETWEEN 0 AND 100 AS confidence_in_range,
       current_size_mb = (walrus.status()->>'current_max_wal_size_mb')::int AS same_size
FROM walrus.recommendations();
-- One strategy by name; the active one without a name, now with its name.
SELECT walrus.recommendation('adaptive')->>'strategy' AS named,
       walrus.recommendation()->>'strategy' AS active;
SELECT key, jsonb_typeof(value) AS type FROM jsonb_each(walrus.recommendation('percentile')) ORDER BY key;
-- An unknown name lists what is available.
SELECT walrus.recommendation('fibonacci');
-- Strategy state lives in shared memory: a few KiB, well under the 1 MB budget.
SELECT (walrus.shmem_status()->>'shared_memory_bytes')::int < 16384 AS under_16_kib,
       walrus.shmem_status()->>'strategy_state_version' AS state_version;
