-- walrus.top_wal_queries(): the statements that wrote the most WAL, from
-- pg_stat_statements, read as the calling user (its visibility rules apply).
-- pg_stat_statements may live in any schema: it is found through pg_extension.
CREATE FUNCTION walrus.top_wal_queries("limit" integer DEFAULT 10)
RETURNS TABLE (
    query text,
    calls bigint,
    wal_bytes numeric,
    wal_bytes_per_call double precision,
    queryid bigint,
    wal_fpi bigint
)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $walrus$
DECLARE
    pss_schema name;
BEGIN
    IF "limit" IS NULL OR "limit" < 1 OR "limit" > 1000 THEN
        RAISE EXCEPTION 'limit must be between 1 and 1000, not %', coalesce("limit"::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT n.nspname INTO pss_schema
    FROM pg_extension AS e JOIN pg_namespace AS n ON n.oid = e.extnamespace
    WHERE e.extname = 'pg_stat_statements';
    IF pss_schema IS NULL THEN
        RAISE EXCEPTION 'pg_stat_statements is not installed in database "%"', current_database()
            USING ERRCODE = 'undefined_object',
                  HINT = 'Add pg_stat_statements to shared_preload_libraries, restart PostgreSQL, '
                         'and run CREATE EXTENSION pg_stat_statements in this database.';
    END IF;
    BEGIN
        RETURN QUERY EXECUTE format(
            'SELECT s.query, s.calls, s.wal_bytes, s.wal_bytes::float8 / NULLIF(s.calls, 0), s.queryid, s.wal_fpi
             FROM %I.pg_stat_statements AS s
             WHERE s.wal_bytes > 0
             ORDER BY s.wal_bytes DESC
             LIMIT $1', pss_schema)
            USING "limit";
    EXCEPTION WHEN object_not_in_prerequisite_state THEN
        RAISE EXCEPTION 'pg_stat_statements is installed in database "%" but not loaded', current_database()
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Add pg_stat_statements to shared_preload_libraries and restart PostgreSQL.';
    END;
END
$walrus$;
COMMENT ON FUNCTION walrus.top_wal_queries(integer) IS 'the statements that wrote the most WAL (pg_stat_statements)';
