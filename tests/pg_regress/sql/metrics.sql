-- walrus.metrics(): one row per metric, the seed's names kept.
SELECT name, type, help FROM walrus.metrics() ORDER BY name;
-- Counters end in _total and every name is in base units.
SELECT count(*) AS misnamed_counters FROM walrus.metrics() WHERE type = 'counter' AND name !~ '_total$';
SELECT (SELECT value FROM walrus.metrics() WHERE name = 'walrus_max_wal_size_bytes')
       = setting::float8 * 1024 * 1024 AS size_in_bytes
FROM pg_settings WHERE name = 'max_wal_size';
SELECT value AS worker_running FROM walrus.metrics() WHERE name = 'walrus_worker_running';
-- walrus.metrics_prometheus(): the same metrics, HELP and TYPE before each sample.
SELECT count(*) AS help_lines FROM regexp_matches(walrus.metrics_prometheus(), '^# HELP ', 'gn');
SELECT count(*) AS type_lines FROM regexp_matches(walrus.metrics_prometheus(), '^# TYPE ', 'gn');
SELECT split_part(walrus.metrics_prometheus(), E'\n', 1) AS first_line,
       split_part(walrus.metrics_prometheus(), E'\n', 2) AS second_line;
