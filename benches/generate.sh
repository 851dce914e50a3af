#!/usr/bin/env bash
# Bulk-generates the benchmark data set for payrecon (docs/BENCHMARKS.md).
#
#   benches/generate.sh N DIR PAYRECON_BIN
#
# DIR/pay.db     SQLite database made by `payrecon migrate`, then filled with sqlite3:
#                N recharge flows (trans_type 1) on business day 2026-11-20 for N/10 users,
#                one paid recharge_order per flow, one user_account per user whose balance
#                is the sum of its flows except for 0.1% of users (+1.00), one user_info per
#                user (mobile 139 + 8 digits of the id, name 用户<id>) for the case lookups.
# DIR/stmt.csv   hfb statement: every flow except 0.1% (id % 1000 = 3), 0.1% with another
#                amount (id % 1000 = 5, +0.01), and N/1000 extra bills the ledger lacks.
# DIR/flows.csv  trans_no,user_id,trans_amount,create_time of the flows (DuckDB's input).
#
# Deterministic: the same N always gives the same files.
set -euo pipefail
N=${1:?N}; DIR=${2:?DIR}; BIN=${3:?payrecon binary}
U=$(( N / 10 ))
mkdir -p "$DIR"
rm -f "$DIR/pay.db" "$DIR/pay.db-wal" "$DIR/pay.db-shm"
"$BIN" migrate --db "sqlite://$DIR/pay.db" >/dev/null

sqlite3 "$DIR/pay.db" >/dev/null <<SQL
PRAGMA journal_mode=OFF;
PRAGMA synchronous=OFF;
PRAGMA cache_size=-1000000;
PRAGMA temp_store=MEMORY;
-- Random-order index inserts are slow: drop the user_id indexes and rebuild them after the load
-- (same definitions as migrations/sqlite).
DROP INDEX idx_trans_flow_user_id;
DROP INDEX idx_recharge_order_user_id;
BEGIN;
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < $N),
g AS (SELECT i,
             (i * 48271) % $U + 1 AS uid,
             100 + (i * 7919) % 99900 AS cents,
             (i - 1) * 86399000 / $N AS ms
      FROM c),
t AS (SELECT i, uid, cents,
             printf('2026-11-20 %02d:%02d:%02d.%03d', ms / 3600000, ms / 60000 % 60, ms / 1000 % 60, ms % 1000) AS ts
      FROM g)
INSERT INTO trans_flow (id, user_id, user_name, trans_no, trans_type, trans_type_name, trans_amount, memo,
                        create_time, update_time, is_deleted)
SELECT i, uid, 'user' || uid, 'CHARGE20261120' || printf('%09d', i), 1, '充值',
       printf('%d.%02d', cents / 100, cents % 100), '充值', ts, ts, 0
FROM t;
INSERT INTO recharge_order (id, agent_bill_no, user_id, bind_code, charge_amt, fee_amt, status, version,
                            create_time, update_time)
SELECT id, trans_no, user_id, 'BC' || printf('%08d', user_id), trans_amount, '0.00', 2, 1, create_time, create_time
FROM trans_flow ORDER BY id;
INSERT INTO user_account (id, user_id, amount, freeze_amount, create_time, update_time, is_deleted, version)
SELECT user_id, user_id,
       printf('%d.%02d', (s + CASE WHEN user_id % 1000 = 7 THEN 100 ELSE 0 END) / 100,
                         (s + CASE WHEN user_id % 1000 = 7 THEN 100 ELSE 0 END) % 100),
       '0.00', '2026-11-01 00:00:00.000', '2026-11-20 23:59:59.000', 0, n
FROM (SELECT user_id, SUM(100 + (id * 7919) % 99900) AS s, COUNT(*) AS n FROM trans_flow GROUP BY user_id)
ORDER BY user_id;
INSERT INTO user_info (id, user_type, mobile, name, bind_status, bind_code, create_time, update_time)
SELECT user_id, 1, '139' || printf('%08d', user_id), '用户' || user_id, 1, 'BC' || printf('%08d', user_id),
       '2026-11-01 00:00:00.000', '2026-11-01 00:00:00.000'
FROM user_account ORDER BY user_id;
COMMIT;
CREATE INDEX IF NOT EXISTS idx_trans_flow_user_id ON trans_flow (user_id);
CREATE INDEX IF NOT EXISTS idx_recharge_order_user_id ON recharge_order (user_id);
PRAGMA journal_mode=WAL;
SQL

# The gateway's statement (hfb format).
{
  echo 'agent_bill_no,bind_code,charge_amt,fee_amt,status,paid_at'
  sqlite3 -csv "$DIR/pay.db" <<SQL
SELECT trans_no, 'BC' || printf('%08d', user_id),
       CASE WHEN id % 1000 = 5 THEN printf('%d.%02d', (100 + (id * 7919) % 99900 + 1) / 100, (100 + (id * 7919) % 99900 + 1) % 100)
            ELSE trans_amount END,
       '0.00', 'SUCCESS', substr(create_time, 1, 19)
FROM trans_flow WHERE id % 1000 <> 3 ORDER BY id;
WITH RECURSIVE c(i) AS (SELECT $N + 1 UNION ALL SELECT i + 1 FROM c WHERE i < $N + $N / 1000)
SELECT 'CHARGE20261120' || printf('%09d', i), 'BC' || printf('%08d', i % $U + 1), '88.88', '0.00', 'SUCCESS',
       printf('2026-11-20 %02d:%02d:%02d', (i - $N) * 86 / 3600 % 24, (i - $N) * 86 / 60 % 60, (i - $N) * 86 % 60)
FROM c;
SQL
} > "$DIR/stmt.csv"

# The flows as CSV for DuckDB.
{
  echo 'trans_no,user_id,trans_amount,create_time'
  sqlite3 -csv "$DIR/pay.db" "SELECT trans_no, user_id, trans_amount, create_time FROM trans_flow WHERE trans_type = 1 AND is_deleted = 0 ORDER BY id"
} > "$DIR/flows.csv"
