#!/usr/bin/env bash
# payrecon's speed/memory benchmark (SPEC §9, docs/BENCHMARKS.md).
#
#   CARGO_TARGET_DIR=/tmp/bench-target cargo build --release
#   bash benches/run.sh 1000000        # then 10000000
#
# Generates N flows (N/10 users) into SQLite and PostgreSQL, then measures, each RUNS times
# (median wall time and median peak RSS from /usr/bin/time -v):
#   1. reconcile against the hfb statement: payrecon (SQLite, PostgreSQL) vs DuckDB on the ready
#      flows.csv, and vs DuckDB after exporting the day's flows with sqlite3 -csv / psql \copy
#   2. database checks incl. balance_mismatch: payrecon vs sqlite3 / psql doing the GROUP BY
#   3. CSV export of trans_flow: payrecon vs sqlite3 -csv / psql \copy
# and prints a markdown table. Environment:
#   PAYRECON_BIN  (default /tmp/bench-target/release/payrecon)
#   BENCH_DIR     (default /tmp/payrecon-bench; data in BENCH_DIR/N, PostgreSQL in BENCH_DIR/pgdata)
#   RUNS          (default 3)     PGPORT (default 55432)     PGBIN (default /usr/lib/postgresql/15/bin)
#   PREPARE_ONLY=1  generate and load, measure nothing
#   STEPS         (default "reconcile balance export") which of the three steps to measure
#   KEEP=0        delete this N's data (files and PostgreSQL database) at the end
# `bash benches/run.sh stop` stops the PostgreSQL cluster (its files stay in BENCH_DIR/pgdata).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${PAYRECON_BIN:-/tmp/bench-target/release/payrecon}
ROOT=${BENCH_DIR:-/tmp/payrecon-bench}
RUNS=${RUNS:-3}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PGPORT=${PGPORT:-55432}
PGDATA_DIR=$ROOT/pgdata

as_pg() {
    if [ "$(id -u)" = 0 ]; then
        setpriv --reuid=postgres --regid=postgres --clear-groups -- "$@"
    else
        "$@"
    fi
}
pg_up() { "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PGPORT"; }
if [ "${1:-}" = stop ]; then
    as_pg "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -m fast stop
    exit 0
fi

N=${1:?usage: benches/run.sh N | stop}
D=$ROOT/$N
OUT=$D/out
RES=$D/results.tsv
PGDB=bench_$N
PGURL="postgres://postgres@127.0.0.1:$PGPORT/$PGDB"
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PGPORT" -U postgres -d "$PGDB")
log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

[ -x "$BIN" ] || { echo "no payrecon binary at $BIN: build it first (see docs/BENCHMARKS.md)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time missing: apt-get install time" >&2; exit 2; }
python3 -c 'import duckdb' 2>/dev/null || { echo "python3 -m pip install duckdb" >&2; exit 2; }
mkdir -p "$D" "$OUT"

# ---- data -------------------------------------------------------------------------------
if [ ! -f "$D/.generated" ]; then
    log "generating $N flows into $D"
    start=$(date +%s.%N)
    bash "$HERE/generate.sh" "$N" "$D" "$BIN"
    touch "$D/.generated"
    log "generated in $(echo "$(date +%s.%N) - $start" | bc) s"
fi

# ---- PostgreSQL -------------------------------------------------------------------------
if ! pg_up; then
    if [ ! -f "$PGDATA_DIR/PG_VERSION" ]; then
        log "initdb $PGDATA_DIR"
        mkdir -p "$PGDATA_DIR"
        [ "$(id -u)" = 0 ] && chown postgres:postgres "$PGDATA_DIR"
        as_pg "$PGBIN/initdb" -D "$PGDATA_DIR" -U postgres --auth=trust -E UTF8 --locale=C >/dev/null
    fi
    log "starting PostgreSQL on 127.0.0.1:$PGPORT"
    as_pg "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -l "$PGDATA_DIR/server.log" -w -o \
        "-p $PGPORT -c listen_addresses=127.0.0.1 -c unix_socket_directories= -c fsync=off \
         -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=2GB -c work_mem=64MB \
         -c maintenance_work_mem=1GB -c max_wal_size=8GB" start >/dev/null
fi
if ! psql -X -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$PGDB'" | grep -q 1; then
    log "loading $PGDB"
    start=$(date +%s.%N)
    psql -X -q -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres -c "CREATE DATABASE $PGDB"
    "$BIN" migrate --db "$PGURL" >/dev/null
    # The same rows as in the SQLite database, as CSV for \copy (deleted after the load).
    mkdir -p "$D/pg"
    sqlite3 -readonly -csv "$D/pay.db" "SELECT id, user_id, user_name, trans_no, trans_type, trans_type_name, trans_amount, memo, create_time, update_time, is_deleted FROM trans_flow ORDER BY id" > "$D/pg/trans_flow.csv"
    sqlite3 -readonly -csv "$D/pay.db" "SELECT id, agent_bill_no, user_id, bind_code, charge_amt, fee_amt, status, version, create_time, update_time FROM recharge_order ORDER BY id" > "$D/pg/recharge_order.csv"
    sqlite3 -readonly -csv "$D/pay.db" "SELECT id, user_id, amount, freeze_amount, create_time, update_time, is_deleted, version FROM user_account ORDER BY id" > "$D/pg/user_account.csv"
    sqlite3 -readonly -csv "$D/pay.db" "SELECT id, user_type, mobile, name, bind_status, bind_code, create_time, update_time FROM user_info ORDER BY id" > "$D/pg/user_info.csv"
    "${PSQL[@]}" <<SQL
\copy trans_flow (id, user_id, user_name, trans_no, trans_type, trans_type_name, trans_amount, memo, create_time, update_time, is_deleted) from '$D/pg/trans_flow.csv' csv
\copy recharge_order (id, agent_bill_no, user_id, bind_code, charge_amt, fee_amt, status, version, create_time, update_time) from '$D/pg/recharge_order.csv' csv
\copy user_account (id, user_id, amount, freeze_amount, create_time, update_time, is_deleted, version) from '$D/pg/user_account.csv' csv
\copy user_info (id, user_type, mobile, name, bind_status, bind_code, create_time, update_time) from '$D/pg/user_info.csv' csv
SELECT setval(pg_get_serial_sequence(t, 'id'), (SELECT max(id) FROM trans_flow)) FROM (VALUES ('trans_flow'), ('recharge_order')) v(t);
SELECT setval(pg_get_serial_sequence('user_info', 'id'), (SELECT max(id) FROM user_info));
VACUUM ANALYZE;
SQL
    rm -rf "$D/pg"
    log "PostgreSQL loaded in $(echo "$(date +%s.%N) - $start" | bc) s"
fi

[ "${PREPARE_ONLY:-0}" = 1 ] && exit 0

# ---- measuring ---------------------------------------------------------------------------
: > "$RES"
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# measure STEP TOOL ROWS -- command…   (exit codes 0 and 1 count as success: reconcile exits 1
# when it finds high-severity breaks, which it is supposed to)
measure() {
    local step=$1 tool=$2 rows=$3; shift 4
    local walls=() rsss=() cpus=() i t
    t=$(mktemp)
    for ((i = 1; i <= RUNS; i++)); do
        local rc=0
        /usr/bin/time -v -o "$t" "$@" >"$OUT/last.stdout" 2>"$OUT/last.stderr" || rc=$?
        if [ "$rc" -gt 1 ]; then
            log "FAILED ($rc): $*"; cat "$OUT/last.stderr" >&2
            printf '%s\t%s\t%s\tFAILED\t\t\n' "$step" "$tool" "$rows" >>"$RES"
            rm -f "$t"; return 0
        fi
        walls+=("$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, p, ":"); s = 0; for (k = 1; k <= n; k++) s = s * 60 + p[k]; print s}' "$t")")
        rsss+=("$(awk -F': ' '/Maximum resident set size/ {print $2}' "$t")")
        cpus+=("$(awk -F': ' '/User time|System time/ {s += $2} END {print s}' "$t")")
    done
    rm -f "$t"
    local w r c
    w=$(printf '%s\n' "${walls[@]}" | median)
    c=$(printf '%s\n' "${cpus[@]}" | median)
    r=$(printf '%s\n' "${rsss[@]}" | median)
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$step" "$tool" "$rows" "$w" "$((r / 1024))" "${walls[*]}" "$c" "$(cut -d' ' -f1 /proc/loadavg)" >>"$RES"
    log "$step / $tool: median ${w}s (${walls[*]}), peak RSS $((r / 1024)) MB"
    cp "$OUT/last.stdout" "$OUT/$(echo "$step-$tool" | tr -c 'a-zA-Z0-9\n-' '_').stdout"
}

STMT_LINES=$(($(wc -l <"$D/stmt.csv") - 1))
export PGTZ=Asia/Shanghai

STEPS=${STEPS:-reconcile balance export}
step() { case " $STEPS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

if step reconcile; then
log "1. reconcile"
measure reconcile "payrecon (SQLite)" "$N" -- "$BIN" reconcile --db "sqlite://$D/pay.db" \
    --statement "$D/stmt.csv" --format hfb --day 2026-11-20 --out "$OUT/recon-sqlite"
measure reconcile "payrecon (PostgreSQL)" "$N" -- "$BIN" reconcile --db "$PGURL" \
    --statement "$D/stmt.csv" --format hfb --day 2026-11-20 --out "$OUT/recon-pg"
measure reconcile "DuckDB (CSV, incl. load)" "$N" -- python3 "$HERE/duckdb_recon.py" \
    "$D/flows.csv" "$D/stmt.csv" "$OUT/recon-duckdb"
# What a user starting from the database does: export the day's recharge flows (the same four
# columns and rows as flows.csv) with the database's own CSV tool, then the same DuckDB join.
FLOWS_SQL="SELECT trans_no, user_id, trans_amount, create_time FROM trans_flow WHERE trans_type = 1 AND is_deleted = 0"
X_CSV="$OUT/flows-x.csv"
measure reconcile "sqlite3 -csv export, then DuckDB" "$N" -- sh -c \
    'sqlite3 -readonly -csv -header "$1" "$2" > "$3" && python3 "$4" "$3" "$5" "$6"' \
    sh "$D/pay.db" "$FLOWS_SQL" "$X_CSV" "$HERE/duckdb_recon.py" "$D/stmt.csv" "$OUT/recon-duckdb-x"
measure reconcile "psql \\copy export, then DuckDB" "$N" -- sh -c \
    'c=$1 x=$2 py=$3 st=$4 o=$5; shift 5; "$@" -c "$c" && python3 "$py" "$x" "$st" "$o"' \
    sh "\\copy ($FLOWS_SQL) TO '$X_CSV' csv header" "$X_CSV" "$HERE/duckdb_recon.py" "$D/stmt.csv" \
    "$OUT/recon-duckdb-x" "${PSQL[@]}"
rm -rf "$OUT/flows-x.csv" "$OUT/recon-duckdb-x"
fi

if step balance; then
log "2. balance check"
BAL_SQLITE="SELECT a.user_id, a.amount, e.s FROM user_account a LEFT JOIN (
  SELECT user_id, SUM(CAST(ROUND(trans_amount * 100) AS INTEGER)) AS s FROM trans_flow
  WHERE is_deleted = 0 GROUP BY user_id) e ON e.user_id = a.user_id
WHERE a.is_deleted = 0 AND CAST(ROUND(a.amount * 100) AS INTEGER) <> COALESCE(e.s, 0);"
BAL_PG="SELECT a.user_id, a.amount, e.s FROM user_account a LEFT JOIN (
  SELECT user_id, SUM(trans_amount) AS s FROM trans_flow
  WHERE is_deleted = 0 GROUP BY user_id) e ON e.user_id = a.user_id
WHERE a.is_deleted = 0 AND a.amount <> COALESCE(e.s, 0);"
measure "balance check" "payrecon, all checks (SQLite)" "$N" -- "$BIN" reconcile --db "sqlite://$D/pay.db" --out "$OUT/checks-sqlite"
measure "balance check" "sqlite3 GROUP BY" "$N" -- sh -c 'sqlite3 -readonly "$1" "$2" > "$3"' sh "$D/pay.db" "$BAL_SQLITE" "$OUT/bal-sqlite3.txt"
measure "balance check" "payrecon, all checks (PostgreSQL)" "$N" -- "$BIN" reconcile --db "$PGURL" --out "$OUT/checks-pg"
measure "balance check" "psql GROUP BY" "$N" -- sh -c '"$@"' sh "${PSQL[@]}" -A -t -o "$OUT/bal-psql.txt" -c "$BAL_PG"
fi

if step export; then
log "3. export"
COLS="id, user_id, user_name, trans_no, trans_type, trans_type_name, trans_amount, memo, create_time, is_deleted"
measure export "payrecon (SQLite)" "$N" -- "$BIN" export --db "sqlite://$D/pay.db" --view flows --out "$OUT/f-payrecon-sqlite.csv"
measure export "sqlite3 -csv" "$N" -- sh -c 'sqlite3 -readonly -csv -header "$1" "$2" > "$3"' sh "$D/pay.db" \
    "SELECT $COLS FROM trans_flow ORDER BY id" "$OUT/f-sqlite3.csv"
measure export "payrecon (PostgreSQL)" "$N" -- "$BIN" export --db "$PGURL" --view flows --out "$OUT/f-payrecon-pg.csv"
measure export "psql \\copy" "$N" -- "${PSQL[@]}" -c "\\copy (SELECT $COLS FROM trans_flow ORDER BY id) TO '$OUT/f-psql.csv' csv header"
rm -f "$OUT"/f-*.csv
fi

# ---- report ------------------------------------------------------------------------------
{
    echo
    echo "### N = $N flows, $((N / 10)) accounts, statement of $STMT_LINES lines ($RUNS runs, median)"
    echo
    echo "| step | tool | wall (s) | peak RSS (MB) | rows/s | runs (s) | CPU of the process (s) | load avg |"
    echo "|---|---|---:|---:|---:|---|---:|---:|"
    awk -F'\t' '{
        if ($4 == "FAILED") { printf "| %s | %s | FAILED | | | | | |\n", $1, $2; next }
        rps = ($4 > 0) ? sprintf("%.0f", $3 / $4) : "";
        printf "| %s | %s | %.2f | %d | %s | %s | %.2f | %s |\n", $1, $2, $4, $5, rps, $6, $7, $8 }' "$RES"
    echo
    echo "payrecon findings (SQLite reconcile):"
    sed -n '/^  [a-z_]* *[0-9]/p' "$OUT/reconcile-payrecon__SQLite_.stdout" 2>/dev/null | sed 's/^/    /'
    echo "DuckDB breaks:"
    sed 's/^/    /' "$OUT/reconcile-DuckDB__CSV__incl__load_.stdout" 2>/dev/null
} | tee "$D/report.md"

if [ "${KEEP:-1}" = 0 ]; then
    rm -rf "$D"
    psql -X -q -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres -c "DROP DATABASE $PGDB"
fi
