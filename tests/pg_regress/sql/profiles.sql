CREATE EXTENSION pg_walrus;
-- walrus.profiles refuses what it cannot use, naming the problem.
ALTER SYSTEM SET walrus.profiles = '{';
ALTER SYSTEM SET walrus.profiles = '{"name": "night"}';
ALTER SYSTEM SET walrus.profiles = '[{"name": "night", "days": ["Mon"], "start_hour": 22, "end_hour": 6, "colour": "blue"}]';
ALTER SYSTEM SET walrus.profiles = '[{"name": "night", "days": ["Mon"], "start_hour": 22}]';
ALTER SYSTEM SET walrus.profiles = '[{"name": "night", "days": ["Monday"], "start_hour": 22, "end_hour": 6}]';
ALTER SYSTEM SET walrus.profiles = '[{"name": "night", "days": [], "start_hour": 22, "end_hour": 6}]';
ALTER SYSTEM SET walrus.profiles = '[{"name": "night", "days": ["Mon"], "start_hour": 24, "end_hour": 6}]';
ALTER SYSTEM SET walrus.profiles = '[{"name": "night", "days": ["Mon"], "start_hour": 22, "end_hour": 25}]';
ALTER SYSTEM SET walrus.profiles = '[{"name": "night", "days": ["Mon"], "start_hour": 22, "end_hour": 6, "max_size": 1}]';
ALTER SYSTEM SET walrus.profiles = '[{"name": "night", "days": ["Mon"], "start_hour": 22, "end_hour": 6, "threshold": 5000}]';
ALTER SYSTEM SET walrus.profiles = '[{"name": "night", "days": ["Mon"], "start_hour": 22, "end_hour": 6, "algorithm": "fibonacci"}]';
ALTER SYSTEM SET walrus.profiles = '[{"name": "night", "days": ["Mon"], "start_hour": 22, "end_hour": 6}, {"name": "night", "days": ["Tue"], "start_hour": 1, "end_hour": 2}]';
ALTER SYSTEM SET walrus.profiles = '[{"name": "night", "days": ["Mon"], "start_hour": "ten", "end_hour": 6}]';
-- A good one is accepted (and reset again).
ALTER SYSTEM SET walrus.profiles = '[{"name": "night", "days": ["Fri"], "start_hour": 22, "end_hour": 6, "max_size": 32768, "threshold": 5, "shrink_enable": false, "algorithm": "adaptive"}]';
ALTER SYSTEM RESET walrus.profiles;
-- No profile is active by default.
SELECT walrus.status()->'active_profile' AS active_profile;

-- walrus.top_wal_queries() says what is missing and how to fix it.
SELECT * FROM walrus.top_wal_queries();
SELECT * FROM walrus.top_wal_queries(0);
SELECT * FROM walrus.top_wal_queries(1001);
CREATE EXTENSION pg_stat_statements;
SELECT * FROM walrus.top_wal_queries(5);
DROP EXTENSION pg_stat_statements;
DROP EXTENSION pg_walrus;
