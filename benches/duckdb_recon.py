#!/usr/bin/env python3
"""The DuckDB baseline for `payrecon reconcile` (docs/BENCHMARKS.md).

    python3 benches/duckdb_recon.py flows.csv stmt.csv OUTDIR

Loads both CSVs (amounts as exact DECIMAL(18,2)), full outer join on the merchant
order number, writes the breaks (missing on either side, different amounts) to
OUTDIR/breaks.csv and prints the counts. Everything, including the CSV load, is
inside the measured process.
"""
import os
import sys

import duckdb

flows, stmt, out = sys.argv[1], sys.argv[2], sys.argv[3]
os.makedirs(out, exist_ok=True)
con = duckdb.connect()  # in memory
con.execute("SET threads = %d" % (os.cpu_count() or 1))
con.execute(
    "CREATE TABLE f AS SELECT * FROM read_csv(?, header = true, columns = "
    "{'trans_no': 'VARCHAR', 'user_id': 'BIGINT', 'trans_amount': 'DECIMAL(18,2)', 'create_time': 'TIMESTAMP'})",
    [flows],
)
con.execute(
    "CREATE TABLE s AS SELECT * FROM read_csv(?, header = true, columns = "
    "{'agent_bill_no': 'VARCHAR', 'bind_code': 'VARCHAR', 'charge_amt': 'DECIMAL(18,2)', "
    "'fee_amt': 'DECIMAL(18,2)', 'status': 'VARCHAR', 'paid_at': 'TIMESTAMP'})",
    [stmt],
)
con.execute(
    """CREATE TABLE breaks AS
       SELECT CASE WHEN f.trans_no IS NULL THEN 'missing_internal'
                   WHEN s.agent_bill_no IS NULL THEN 'missing_external'
                   ELSE 'amount_mismatch' END AS kind,
              COALESCE(f.trans_no, s.agent_bill_no) AS agent_bill_no,
              f.user_id, f.trans_amount AS amount_internal, s.charge_amt AS amount_external,
              f.trans_amount - s.charge_amt AS difference
       FROM f FULL OUTER JOIN s ON f.trans_no = s.agent_bill_no
       WHERE f.trans_no IS NULL OR s.agent_bill_no IS NULL OR f.trans_amount <> s.charge_amt"""
)
con.execute("COPY breaks TO '%s' (HEADER, DELIMITER ',')" % os.path.join(out, "breaks.csv").replace("'", "''"))
for kind, n in con.execute("SELECT kind, count(*) FROM breaks GROUP BY kind ORDER BY kind").fetchall():
    print(kind, n)
