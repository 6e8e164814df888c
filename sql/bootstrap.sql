-- Runs first in CREATE EXTENSION pg_walrus, in schema walrus (see the control file).
COMMENT ON SCHEMA walrus IS 'pg_walrus: automatic max_wal_size sizing';
-- Every function is callable by any user (the privileged ones check inside).
GRANT USAGE ON SCHEMA walrus TO PUBLIC;
