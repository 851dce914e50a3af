#!/usr/bin/env bash
# Issue 14's speed targets (docs/BENCHMARKS.md, "Fees, settlement and custody"):
#
#   bash benches/money.sh N            # N payments (default 1000000)
#
# 1. the fee check at N payments adds at most 10% to a reconcile run:
#    `reconcile --statement wechat.csv --format wechat` without and with `--fee-rate 0.6%`;
# 2. a fund-flow bill of N lines (N ≤ 1M) settles in under the time the trade bill takes to read:
#    the same run with `--statement fundflow.csv --format wechat-fundflow` added, against the
#    trade bill's own parse time (PAYRECON_TIMINGS=1 "statement parse");
# 3. a balances file of N/10 users compares in under 5 s: the run without a statement, without
#    and with `--balances balances.csv`.
#
# The ledger is benches/generate.sh's (N recharge flows of 2026-11-20 for N/10 users, in
# SQLite); this script adds, with sqlite3, the day's WeChat ALL bill (every flow, fee 0.60%
# half-up per order; 0.1% charged one cent more), its fund-flow bill (one net row per payment:
# amount − fee, a running balance; 0.1% never booked) and the custodian's balances file (every
# user's balance; 0.1% one yuan off). Knobs: BENCH_DIR (default /tmp/payrecon-bench),
# PAYRECON_BIN (default /tmp/bench-target/release/payrecon), RUNS (default 3).
set -euo pipefail
N=${1:-1000000}
ROOT=${BENCH_DIR:-/tmp/payrecon-bench}
DIR="$ROOT/$N"
BIN=${PAYRECON_BIN:-/tmp/bench-target/release/payrecon}
RUNS=${RUNS:-3}
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$DIR"
[ -f "$DIR/pay.db" ] || bash "$HERE/generate.sh" "$N" "$DIR" "$BIN"

if [ ! -f "$DIR/wechat.csv" ]; then
  # Fee in cents: amount × 0.6 % half-up = (cents × 6 + 500) / 1000; id % 1000 = 11: one cent more.
  sqlite3 "$DIR/pay.db" >/dev/null <<'SQL'
CREATE TEMP VIEW IF NOT EXISTS x AS
SELECT id, trans_no, create_time,
       CAST(replace(trans_amount, '.', '') AS INTEGER) AS cents
FROM trans_flow WHERE trans_type = 1;
SQL
  {
    echo '交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注'
    sqlite3 "$DIR/pay.db" <<'SQL'
.mode list
.separator ","
WITH x AS (SELECT id, trans_no, substr(create_time, 1, 19) AS t,
                  CAST(replace(trans_amount, '.', '') AS INTEGER) AS cents FROM trans_flow WHERE trans_type = 1),
f AS (SELECT *, (cents * 6 + 500) / 1000 + CASE WHEN id % 1000 = 11 THEN 1 ELSE 0 END AS fee FROM x)
SELECT '`' || t, '`wx81be3101902f7cb2', '`1601959334', '`0', '`', '`42' || printf('%026d', id), '`' || trans_no,
       '`openid', '`NATIVE', '`SUCCESS', '`OTHERS', '`CNY', '`' || printf('%d.%02d', cents / 100, cents % 100),
       '`0.00', '`0', '`0', '`0.00', '`0.00', '`', '`', '`recharge', '`',
       '`' || printf('%d.%02d000', fee / 100, fee % 100), '`0.60%', '`' || printf('%d.%02d', cents / 100, cents % 100),
       '`0.00', '`'
FROM f ORDER BY id;
SELECT '总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额';
WITH x AS (SELECT id, CAST(replace(trans_amount, '.', '') AS INTEGER) AS cents FROM trans_flow WHERE trans_type = 1),
s AS (SELECT COUNT(*) AS n, SUM(cents) AS c,
             SUM((cents * 6 + 500) / 1000 + CASE WHEN id % 1000 = 11 THEN 1 ELSE 0 END) AS fee FROM x)
SELECT '`' || n, '`' || printf('%d.%02d', c / 100, c % 100), '`0.00', '`0.00',
       '`' || printf('%d.%02d000', fee / 100, fee % 100), '`' || printf('%d.%02d', c / 100, c % 100), '`0.00'
FROM s;
SQL
  } > "$DIR/wechat.csv"
fi

# The fund-flow target is for a bill of 1M lines: at larger N the settlement step is skipped.
SETTLE=$([ "$N" -le 1000000 ] && echo 1 || echo 0)
if [ "$SETTLE" = 1 ] && [ ! -f "$DIR/fundflow.csv" ]; then
  # One net row per payment (amount − fee), in time order, from an opening balance of 0;
  # id % 1000 = 13 never booked.
  {
    echo '记账时间,微信支付业务单号,资金流水单号,业务名称,业务类型,收支类型,收支金额(元),账户结余(元),资金变更提交申请人,备注,业务凭证号'
    sqlite3 "$DIR/pay.db" <<'SQL'
.mode list
.separator ","
WITH x AS (SELECT id, trans_no, substr(create_time, 1, 19) AS t,
                  CAST(replace(trans_amount, '.', '') AS INTEGER) AS cents FROM trans_flow WHERE trans_type = 1),
f AS (SELECT *, cents - ((cents * 6 + 500) / 1000 + CASE WHEN id % 1000 = 11 THEN 1 ELSE 0 END) AS net
      FROM x WHERE id % 1000 <> 13),
r AS (SELECT *, SUM(net) OVER (ORDER BY id) AS bal FROM f)
SELECT '`' || t, '`42' || printf('%026d', id), '`FF' || printf('%026d', id), '`recharge', '`交易', '`收入',
       '`' || printf('%d.%02d', net / 100, net % 100), '`' || printf('%d.%02d', bal / 100, bal % 100),
       '`system', '`', '`' || trans_no
FROM r ORDER BY id;
SELECT '资金流水总笔数,收入笔数,收入金额,支出笔数,支出金额';
WITH x AS (SELECT id, CAST(replace(trans_amount, '.', '') AS INTEGER) AS cents FROM trans_flow WHERE trans_type = 1),
f AS (SELECT cents - ((cents * 6 + 500) / 1000 + CASE WHEN id % 1000 = 11 THEN 1 ELSE 0 END) AS net
      FROM x WHERE id % 1000 <> 13)
SELECT '`' || COUNT(*), '`' || COUNT(*), '`' || printf('%d.%02d', SUM(net) / 100, SUM(net) % 100), '`0', '`0.00' FROM f;
SQL
  } > "$DIR/fundflow.csv"
fi

if [ ! -f "$DIR/balances.csv" ]; then
  {
    echo 'user_code,amount,freeze_amount'
    sqlite3 -csv "$DIR/pay.db" <<'SQL'
SELECT i.bind_code,
       CASE WHEN a.user_id % 1000 = 17
            THEN printf('%d.%02d', (CAST(replace(a.amount, '.', '') AS INTEGER) + 100) / 100,
                                   (CAST(replace(a.amount, '.', '') AS INTEGER) + 100) % 100)
            ELSE a.amount END,
       a.freeze_amount
FROM user_account a JOIN user_info i ON i.id = a.user_id ORDER BY a.user_id;
SQL
  } > "$DIR/balances.csv"
fi

DB="sqlite://$DIR/pay.db"
OUT="$DIR/money-out"
measure() { # label, then the payrecon arguments; prints "label wall_s rss_mb"
  local label=$1; shift
  local walls=() rss=()
  for _ in $(seq "$RUNS"); do
    rm -rf "$OUT"
    /usr/bin/time -v -o "$DIR/time.txt" env PAYRECON_TIMINGS=1 "$BIN" --workspace "$DIR/money-ws.db" \
      reconcile --db "$DB" --out "$OUT" --fail-on critical "$@" >"$DIR/run.log" 2>"$DIR/timings.log" || true
    walls+=("$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s}' "$DIR/time.txt")")
    rss+=("$(awk -F': ' '/Maximum resident/ {print int($2 / 1024)}' "$DIR/time.txt")")
  done
  local med
  med=$(printf '%s\n' "${walls[@]}" | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}')
  printf '| %s | %s | %s | %s |\n' "$label" "$med" "$(printf '%s\n' "${rss[@]}" | sort -g | tail -1)" "${walls[*]}"
  { grep -E "statement parse" "$DIR/timings.log" || true; } | tr "\n" " " | sed "s/^/    timings of the last run: /"; echo
  grep -E "^  (fees|settlement|custodian)" "$DIR/run.log" || true
}

echo "## N = $N payments, $((N / 10)) users ($(date -u '+%Y-%m-%d %H:%M UTC'), $(git -C "$HERE/.." rev-parse --short HEAD))"
echo
echo '| run | wall (s, median) | peak RSS (MB) | runs (s) |'
echo '|---|---:|---:|---|'
measure "trade bill only" --statement "$DIR/wechat.csv" --format wechat --day 2026-11-20
measure "trade bill + fee check" --statement "$DIR/wechat.csv" --format wechat --day 2026-11-20 --fee-rate 0.6%
if [ "$SETTLE" = 1 ]; then
  measure "trade bill + fund-flow bill" --statement "$DIR/wechat.csv" --format wechat \
    --statement "$DIR/fundflow.csv" --format wechat-fundflow --day 2026-11-20
fi
measure "checks only" 
measure "checks + balances file" --balances "$DIR/balances.csv"
