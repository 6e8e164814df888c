-- Every walrus.* setting: name, default, unit, reload context and range.
SELECT name, boot_val, unit, context, vartype, min_val, max_val
FROM pg_settings
WHERE name LIKE 'walrus.%'
ORDER BY name;
-- Sizing settings are SIGHUP context: a session SET is refused outright.
SET walrus.threshold = 3;
SET walrus.shrink_factor = 0.5;
SET walrus.min_size = '2GB';
SET walrus.history_retention_days = 7;
-- ALTER SYSTEM's range messages differ in wording between PostgreSQL
-- versions: tests/e2e/test_gucs.py checks them on each version.
-- walrus.notify_channel takes only a plain lowercase identifier (or empty).
ALTER SYSTEM SET walrus.notify_channel = 'Walrus-Events';
ALTER SYSTEM SET walrus.notify_channel = 'events; DROP TABLE walrus.history';
ALTER SYSTEM SET walrus.notify_channel = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
ALTER SYSTEM SET walrus.notify_channel = '9lives';
ALTER SYSTEM SET walrus.notify_channel = 'ops_alerts';
ALTER SYSTEM SET walrus.notify_channel = '';
ALTER SYSTEM RESET walrus.notify_channel;
