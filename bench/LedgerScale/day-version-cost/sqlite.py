import sqlite3, time, os
# The SQLite writer's per-batch day-version bump (LedgerDayVersions.BumpOne, a prepared statement run once per day of a
# batch inside the batch's transaction) timed alone, against the same transaction without it, on a WAL file.
path='/tmp/modelmix-day-version-cost.db'
for f in (path, path+'-wal', path+'-shm'):
    if os.path.exists(f): os.remove(f)
c=sqlite3.connect(path, isolation_level=None)
c.execute('PRAGMA journal_mode=WAL'); c.execute('PRAGMA synchronous=NORMAL')
c.execute('CREATE TABLE ledger_day_versions (day INTEGER NOT NULL PRIMARY KEY, version INTEGER NOT NULL) STRICT, WITHOUT ROWID')
c.execute('CREATE TABLE t (x INTEGER)')
day=864000000000
for d in range(400): c.execute('INSERT INTO ledger_day_versions VALUES (?, 1)', (d*day,))
bump='INSERT INTO ledger_day_versions (day, version) VALUES (?1, 1) ON CONFLICT (day) DO UPDATE SET version = ledger_day_versions.version + 1;'
def run(with_bump, n=3000):
    t=time.perf_counter(); cpu=time.process_time()
    for i in range(n):
        c.execute('BEGIN IMMEDIATE')
        c.execute('INSERT INTO t VALUES (?)', (i,))
        if with_bump: c.execute(bump, (399*day,))
        c.execute('COMMIT')
    return (time.perf_counter()-t)/n*1e6, (time.process_time()-cpu)/n*1e6
for r in range(4):
    a=run(False); b=run(True)
    print(f"round {r+1}: transaction without bump {a[0]:.1f} us wall {a[1]:.1f} us CPU; with bump {b[0]:.1f} us wall {b[1]:.1f} us CPU; bump = {b[0]-a[0]:+.1f} us wall, {b[1]-a[1]:+.1f} us CPU; load {open('/proc/loadavg').read().strip()}")
