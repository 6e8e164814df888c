-- The extension installs silently when preloaded.
CREATE EXTENSION pg_walrus;
SELECT extname, extnamespace::regnamespace AS schema, extrelocatable
FROM pg_extension WHERE extname = 'pg_walrus';
-- Everything it owns lives in schema walrus.
SELECT pg_describe_object(classid, objid, objsubid) AS object
FROM pg_depend
WHERE refclassid = 'pg_extension'::regclass
  AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pg_walrus')
  AND deptype = 'e'
ORDER BY 1;
