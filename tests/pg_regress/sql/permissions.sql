-- Any user may watch; only superusers may act.
CREATE ROLE walrus_watcher LOGIN;
SET ROLE walrus_watcher;
SELECT walrus.status() ? 'enabled' AS status_works;
SELECT walrus.recommendation() ? 'action' AS recommendation_works;
SELECT walrus.analyze() ? 'analyzed' AS analyze_works;
SELECT walrus.shmem_status() ? 'worker_pid' AS shmem_status_works;
SELECT count(*) >= 0 AS history_works FROM walrus.history();
SELECT count(*) > 0 AS metrics_work FROM walrus.metrics();
SELECT walrus.metrics_prometheus() LIKE '# HELP %' AS prometheus_works;
SELECT walrus.analyze(apply := true);
SELECT walrus.reset();
INSERT INTO walrus.history (action, old_size_mb, new_size_mb, forced_checkpoints, checkpoint_timeout_sec)
VALUES ('increase', 1, 2, 0, 30);
DELETE FROM walrus.history;
SELECT walrus.cleanup_history();
RESET ROLE;
-- Every function pins its search_path.
SELECT p.proname, p.proconfig
FROM pg_proc p
WHERE p.pronamespace = 'walrus'::regnamespace
ORDER BY p.proname;
DROP ROLE walrus_watcher;
