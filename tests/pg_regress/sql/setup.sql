-- The extension installs silently when preloaded.
CREATE EXTENSION pg_walrus;
SELECT extname, extnamespace::regnamespace AS schema, extrelocatable
FROM pg_extension WHERE extname = 'pg_walrus';
-- Everything it owns lives in schema walrus (PostgreSQL 17+ also lists the
-- table's row types as members: left out to compare across versions).
SELECT pg_describe_object(classid, objid, objsubid) AS object
FROM pg_depend
WHERE refclassid = 'pg_extension'::regclass
  AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pg_walrus')
  AND deptype = 'e'
  AND classid <> 'pg_type'::regclass
ORDER BY 1;
