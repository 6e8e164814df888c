-- Runs last in CREATE EXTENSION pg_walrus.
-- The extension installs without shared_preload_libraries (so a DBA can inspect
-- it first), but the worker exists only when the library is preloaded: say so.
-- A WARNING, because CREATE EXTENSION hides anything below WARNING from its script.
DO $walrus$
BEGIN
    IF NOT EXISTS (
        SELECT 1
        FROM unnest(string_to_array(current_setting('shared_preload_libraries'), ',')) AS entry
        WHERE regexp_replace(btrim(entry, ' "'), '^.*/|\.so$', '', 'g') = 'pg_walrus'
    ) THEN
        RAISE WARNING 'pg_walrus is installed, but its background worker is not running'
            USING DETAIL = 'pg_walrus is not in shared_preload_libraries, so max_wal_size will not be sized automatically.',
                  HINT = 'Add pg_walrus to shared_preload_libraries in postgresql.conf and restart PostgreSQL.';
    END IF;
END
$walrus$;
