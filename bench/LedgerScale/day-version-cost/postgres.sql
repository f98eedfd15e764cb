-- The PostgreSQL writer's per-batch day-version bump (LedgerDayVersions.BumpFrom over the move's staging rows) timed
-- alone: a 10,000-row staging table of one day, the bump 3 x 300 times against a scan of the same table, on a temporary
-- copy of ledger_day_versions (the ledger's own rows are not touched). Run with psql on a migrated ledger database:
--   psql "host=... dbname=..." -f bench/LedgerScale/day-version-cost/postgres.sql
CREATE TEMP TABLE v (LIKE ledger_day_versions INCLUDING ALL);
INSERT INTO v SELECT * FROM ledger_day_versions;
CREATE TEMP TABLE b AS SELECT (639000000000000000::bigint + g::bigint * 2592000) AS timestamp FROM generate_series(1, 10000) g;
ANALYZE b;
DO $$
DECLARE t0 timestamptz; t1 timestamptz; n int := 300; i int; base float8; withb float8; r int;
BEGIN
  FOR r IN 1..3 LOOP
    t0 := clock_timestamp();
    FOR i IN 1..n LOOP PERFORM count(*) FROM b; END LOOP;
    t1 := clock_timestamp(); base := extract(epoch FROM t1 - t0) * 1e6 / n;
    t0 := clock_timestamp();
    FOR i IN 1..n LOOP
      PERFORM count(*) FROM b;
      INSERT INTO v (day, version) SELECT DISTINCT (timestamp - (timestamp % 864000000000)), 1 FROM b WHERE true ORDER BY 1 ON CONFLICT (day) DO UPDATE SET version = v.version + 1;
    END LOOP;
    t1 := clock_timestamp(); withb := extract(epoch FROM t1 - t0) * 1e6 / n;
    RAISE NOTICE 'round %: a scan of the 10,000-row batch % us; with the day-version bump % us; bump = % us per batch', r, round(base::numeric,0), round(withb::numeric,0), round((withb-base)::numeric,0);
  END LOOP;
END $$;
