#!/usr/bin/env bash
# payrecon's speed/memory benchmark (SPEC §9, docs/BENCHMARKS.md).
#
#   CARGO_TARGET_DIR=/tmp/bench-target cargo build --release
#   bash benches/run.sh 1000000        # then 10000000
#   bash benches/run.sh stop           # stop the private PostgreSQL and MariaDB servers
#
# Generates N flows (N/10 users) into SQLite, loads the same rows into a private PostgreSQL and
# a private MariaDB (each started by this script on 127.0.0.1, files under BENCH_DIR), then
# measures, each RUNS times (median wall time and median peak RSS from /usr/bin/time -v):
#   1. reconcile against the hfb statement: payrecon (SQLite, PostgreSQL, MariaDB) vs DuckDB on
#      the ready flows.csv, and vs DuckDB after exporting the day's flows with sqlite3 -csv /
#      psql \copy / mariadb -B
#   2. database checks incl. balance_mismatch: payrecon vs sqlite3 / psql / mariadb doing the
#      GROUP BY
#   3. CSV export of trans_flow: payrecon vs sqlite3 -csv / psql \copy / mariadb -B
# and prints a markdown table. Environment:
#   PAYRECON_BIN  (default /tmp/bench-target/release/payrecon)
#   BENCH_DIR     (default /tmp/payrecon-bench; data in BENCH_DIR/N, PostgreSQL in
#                 BENCH_DIR/pgdata, MariaDB in BENCH_DIR/mariadb)
#   RUNS          (default 3)
#   BACKENDS      (default "sqlite pg mariadb") the databases to load and measure
#   SRB_DUMP      (default ../shared/fixtures/srb_core.sql) srb's schema dump: MariaDB's database
#                 is loaded from it, then completed by `payrecon migrate`
#   PGPORT (default 55432)     PGBIN (default /usr/lib/postgresql/15/bin)
#   MYPOOL (InnoDB buffer pool, default 5G)   MYPORT (default 53306)     MYBIN (directory of mariadbd and mariadb-install-db; default: PATH,
#                 then /usr/sbin; the clients mariadb and mariadb-admin are taken from PATH)
#   PREPARE_ONLY=1  generate and load, measure nothing
#   STEPS         (default "reconcile balance export") which of the three steps to measure
#   TIMEOUT       seconds after which a measured command is killed (its row reads FAILED);
#                 default none
#   KEEP_EXPORTS=1  keep step 3's output files in BENCH_DIR/N/out (f-*.csv, f-mariadb.tsv)
#   KEEP=0        delete this N's data (files, PostgreSQL and MariaDB databases) at the end
# MariaDB's trans_flow.create_time is a TIMESTAMP (srb's layout) holding business time (+08:00):
# the loading session and the mariadb client set time_zone='+08:00'; payrecon sets the business
# zone itself. TIMESTAMP(0) keeps whole seconds (MariaDB truncates the flows' milliseconds).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${PAYRECON_BIN:-/tmp/bench-target/release/payrecon}
ROOT=${BENCH_DIR:-/tmp/payrecon-bench}
RUNS=${RUNS:-3}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PGPORT=${PGPORT:-55432}
PGDATA_DIR=$ROOT/pgdata
BACKENDS=${BACKENDS:-sqlite pg mariadb}
SRB_DUMP=${SRB_DUMP:-$HERE/../../shared/fixtures/srb_core.sql}
MYPORT=${MYPORT:-53306}
MYDATA_DIR=$ROOT/mariadb
MYSOCK=$MYDATA_DIR/mariadbd.sock
if [ -n "${MYBIN:-}" ]; then
    MYD=$MYBIN/mariadbd MYINSTALL=$MYBIN/mariadb-install-db
else
    MYD=$(PATH=$PATH:/usr/sbin command -v mariadbd || echo /usr/sbin/mariadbd)
    MYINSTALL=$(PATH=$PATH:/usr/sbin command -v mariadb-install-db || echo /usr/bin/mariadb-install-db)
fi
on() { case " $BACKENDS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

as_pg() {
    if [ "$(id -u)" = 0 ]; then
        setpriv --reuid=postgres --regid=postgres --clear-groups -- "$@"
    else
        "$@"
    fi
}
pg_up() { "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PGPORT"; }
# The server's own admin connection: root over the private socket (no password, no TCP).
my_admin() { mariadb-admin --no-defaults --socket="$MYSOCK" -u root "$@"; }
my_up() { my_admin --connect-timeout=2 ping >/dev/null 2>&1; }
if [ "${1:-}" = stop ]; then
    rc=0
    if pg_up; then as_pg "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -m fast stop || rc=$?; fi
    if my_up; then
        my_admin shutdown || rc=$?
        echo "MariaDB on 127.0.0.1:$MYPORT stopped" >&2
    fi
    exit "$rc"
fi

N=${1:?usage: benches/run.sh N | stop}
D=$ROOT/$N
OUT=$D/out
RES=$D/results.tsv
PGDB=bench_$N
PGURL="postgres://postgres@127.0.0.1:$PGPORT/$PGDB"
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PGPORT" -U postgres -d "$PGDB")
MYDB=bench_$N
MYURL="mysql://root@127.0.0.1:$MYPORT/$MYDB"
# The mariadb client as the measured commands run it: TCP to the private server, business time
# for TIMESTAMP columns (as payrecon and psql with PGTZ show them).
MYSQL_NODB=(mariadb --no-defaults --protocol=TCP -h 127.0.0.1 -P "$MYPORT" -u root
    --default-character-set=utf8mb4 "--init-command=SET time_zone='+08:00'")
MYSQL=("${MYSQL_NODB[@]}" -D "$MYDB")
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

# The same rows as in the SQLite database, as CSV for psql's \copy and MariaDB's LOAD DATA
# (written once, deleted after the loads). NULL is written as an unquoted \N, which both loads
# read as NULL; an empty string stays "" (sqlite3 quotes it).
CSV_DIR=$D/csv
TF_COLS="id, user_id, user_name, trans_no, trans_type, trans_type_name, trans_amount, memo, create_time, update_time, is_deleted"
RO_COLS="id, agent_bill_no, user_id, bind_code, charge_amt, fee_amt, status, version, create_time, update_time"
UA_COLS="id, user_id, amount, freeze_amount, create_time, update_time, is_deleted, version"
UI_COLS="id, user_type, mobile, name, bind_status, bind_code, create_time, update_time"
export_csvs() {
    [ -f "$CSV_DIR/.done" ] && return 0
    mkdir -p "$CSV_DIR"
    local start; start=$(date +%s.%N)
    local q=(sqlite3 -readonly -csv -nullvalue '\N' "$D/pay.db")
    "${q[@]}" "SELECT $TF_COLS FROM trans_flow ORDER BY id" > "$CSV_DIR/trans_flow.csv"
    "${q[@]}" "SELECT $RO_COLS FROM recharge_order ORDER BY id" > "$CSV_DIR/recharge_order.csv"
    "${q[@]}" "SELECT $UA_COLS FROM user_account ORDER BY id" > "$CSV_DIR/user_account.csv"
    "${q[@]}" "SELECT $UI_COLS FROM user_info ORDER BY id" > "$CSV_DIR/user_info.csv"
    touch "$CSV_DIR/.done"
    log "tables written as CSV in $(secs_since "$start") s"
}
secs_since() { echo "$(date +%s.%N) - $1" | bc; }
# The load time of a backend, for the report (one line per backend, the latest load).
note_load() { { grep -v "^$1"$'\t' "$D/load.tsv" 2>/dev/null || true; printf '%s\t%s\n' "$1" "$2"; } >"$D/load.tsv.new"; mv "$D/load.tsv.new" "$D/load.tsv"; }

# ---- PostgreSQL -------------------------------------------------------------------------
if on pg; then
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
    export_csvs
    start=$(date +%s.%N)
    psql -X -q -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres -c "CREATE DATABASE $PGDB"
    "$BIN" migrate --db "$PGURL" >/dev/null
    "${PSQL[@]}" <<SQL
\copy trans_flow ($TF_COLS) from '$CSV_DIR/trans_flow.csv' csv null '\\N'
\copy recharge_order ($RO_COLS) from '$CSV_DIR/recharge_order.csv' csv null '\\N'
\copy user_account ($UA_COLS) from '$CSV_DIR/user_account.csv' csv null '\\N'
\copy user_info ($UI_COLS) from '$CSV_DIR/user_info.csv' csv null '\\N'
SELECT setval(pg_get_serial_sequence(t, 'id'), (SELECT max(id) FROM trans_flow)) FROM (VALUES ('trans_flow'), ('recharge_order')) v(t);
SELECT setval(pg_get_serial_sequence('user_info', 'id'), (SELECT max(id) FROM user_info));
VACUUM ANALYZE;
SQL
    t=$(secs_since "$start")
    note_load PostgreSQL "$t"
    log "PostgreSQL loaded in $t s"
fi
fi

# ---- MariaDB ----------------------------------------------------------------------------
if on mariadb; then
if ! my_up; then
    # Root may not run mariadbd: the server switches to the mysql user, which owns the files.
    my_user=(); [ "$(id -u)" = 0 ] && my_user=(--user=mysql)
    if [ ! -d "$MYDATA_DIR/mysql" ]; then
        log "mariadb-install-db $MYDATA_DIR"
        mkdir -p "$MYDATA_DIR"
        [ "$(id -u)" = 0 ] && chown mysql:mysql "$MYDATA_DIR"
        # normal: root@localhost without a password (the server listens on 127.0.0.1 only).
        "$MYINSTALL" --no-defaults "${my_user[@]}" --datadir="$MYDATA_DIR" \
            --auth-root-authentication-method=normal --skip-test-db >"$MYDATA_DIR/install.log" 2>&1 \
            || { cat "$MYDATA_DIR/install.log" >&2; exit 2; }
    fi
    log "starting MariaDB on 127.0.0.1:$MYPORT"
    # Bench settings, as PostgreSQL's: no durability (flush the redo log once a second, no
    # doublewrite, no binary log), LOAD DATA LOCAL allowed. The buffer pool holds the 10M
    # tables (trans_flow 1.6 GB, recharge_order 1.9 GB with indexes), as a DBA sizes it for
    # the working set: with 2 GB every scan of both tables read them again from the OS.
    setsid "$MYD" --no-defaults "${my_user[@]}" --datadir="$MYDATA_DIR" --socket="$MYSOCK" \
        --pid-file="$MYDATA_DIR/mariadbd.pid" --log-error="$MYDATA_DIR/server.log" \
        --bind-address=127.0.0.1 --port="$MYPORT" --skip-name-resolve --skip-log-bin \
        --innodb-buffer-pool-size=${MYPOOL:-5G} --innodb-log-file-size=1G --innodb-flush-log-at-trx-commit=0 \
        --innodb-doublewrite=0 --local-infile=1 --max-allowed-packet=256M \
        </dev/null >/dev/null 2>&1 &
    for ((i = 0; i < 120; i++)); do my_up && break; sleep 0.5; done
    my_up || { echo "MariaDB did not start: see $MYDATA_DIR/server.log" >&2; tail -20 "$MYDATA_DIR/server.log" >&2; exit 2; }
    # Over TCP the client is root@127.0.0.1 (skip-name-resolve): give it root's rights.
    mariadb --no-defaults --socket="$MYSOCK" -u root -e \
        "CREATE USER IF NOT EXISTS root@'127.0.0.1'; GRANT ALL ON *.* TO root@'127.0.0.1' WITH GRANT OPTION"
fi
if [ -z "$("${MYSQL_NODB[@]}" -N -B -e "SELECT 1 FROM information_schema.schemata WHERE schema_name = '$MYDB'")" ]; then
    log "loading $MYDB"
    export_csvs
    start=$(date +%s.%N)
    "${MYSQL_NODB[@]}" -e "CREATE DATABASE $MYDB CHARACTER SET utf8mb4"
    # The database srb users have: srb's own schema dump (utf8 tables, trans_flow without an
    # index on create_time), then `payrecon migrate` completes it with the tables srb lacks.
    if [ -f "$SRB_DUMP" ]; then
        "${MYSQL[@]}" < "$SRB_DUMP"
    else
        log "no srb dump at $SRB_DUMP: the tables are laid out by payrecon migrate alone"
    fi
    "$BIN" migrate --db "$MYURL" >/dev/null
    # time_zone: the CSVs' times are business time, and trans_flow.create_time is a TIMESTAMP.
    # ESCAPED BY '': a backslash in the data is data (sqlite3 escapes nothing); the \N of NULL is
    # then read as the two characters, so the nullable columns go through NULLIF.
    ld() { # ld TABLE "COLUMNS" [SET …]
        echo "LOAD DATA LOCAL INFILE '$CSV_DIR/$1.csv' INTO TABLE $1 CHARACTER SET utf8mb4
FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' ESCAPED BY '' LINES TERMINATED BY '\\n' ($2) ${3:-};"
    }
    nul() { echo "$1 = NULLIF(@$1, '\\\\N')"; }
    "${MYSQL[@]}" --local-infile=1 --show-warnings <<SQL >&2
SET time_zone = '+08:00', unique_checks = 0, foreign_key_checks = 0;
$(ld trans_flow "id, user_id, @user_name, trans_no, trans_type, @trans_type_name, @trans_amount, @memo, create_time, update_time, is_deleted" \
    "SET $(nul user_name), $(nul trans_type_name), $(nul trans_amount), $(nul memo)")
$(ld recharge_order "$RO_COLS")
$(ld user_account "$UA_COLS")
$(ld user_info "id, user_type, mobile, @name, bind_status, @bind_code, create_time, update_time" \
    "SET $(nul name), $(nul bind_code)")
SQL
    "${MYSQL[@]}" -e "ANALYZE TABLE trans_flow, recharge_order, user_account, user_info" >/dev/null
    t=$(secs_since "$start")
    note_load MariaDB "$t"
    log "MariaDB loaded in $t s"
    # Every row arrived: with LOCAL, a row the server refuses is a warning, not an error. A
    # short load is dropped, so that the next run loads again.
    for tb in trans_flow recharge_order user_account user_info; do
        a=$(sqlite3 -readonly "$D/pay.db" "SELECT COUNT(*) FROM $tb")
        b=$("${MYSQL[@]}" -N -B -e "SELECT COUNT(*) FROM $tb")
        if [ "$a" != "$b" ]; then
            echo "MariaDB $tb has $b rows, SQLite $a: $MYDB dropped" >&2
            "${MYSQL_NODB[@]}" -e "DROP DATABASE $MYDB"
            exit 2
        fi
    done
fi
fi
rm -rf "$CSV_DIR"

[ "${PREPARE_ONLY:-0}" = 1 ] && exit 0

# ---- measuring ---------------------------------------------------------------------------
: > "$RES"
rm -f "$OUT"/*.stdout # the report quotes this run's outputs only
# A client killed by TIMEOUT leaves its query running in the server, which notices only when it
# next writes to it: after a failed run, stop what still runs on the bench servers, so that the
# next rows do not share the two cores with it.
stop_server_work() {
    if on pg && pg_up; then
        psql -X -q -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres -tAc "SELECT pg_cancel_backend(pid)
            FROM pg_stat_activity WHERE datname = '$PGDB' AND state = 'active' AND pid <> pg_backend_pid()" >/dev/null || true
    fi
    if on mariadb && my_up; then
        local ids
        ids=$(mariadb --no-defaults --socket="$MYSOCK" -u root -N -B -e "SELECT GROUP_CONCAT(id)
            FROM information_schema.processlist
            WHERE command NOT IN ('Sleep', 'Daemon') AND user <> 'system user' AND id <> CONNECTION_ID()")
        if [ -n "$ids" ] && [ "$ids" != NULL ]; then
            log "killing MariaDB connections $ids left running"; my_admin kill "$ids" || true
        fi
    fi
}
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
            stop_server_work
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
# TIMEOUT: each measured command under timeout(1); a killed run exits 124 and reads FAILED.
TO=(); [ -n "${TIMEOUT:-}" ] && TO=(timeout --signal=TERM --kill-after=10 "$TIMEOUT")

STEPS=${STEPS:-reconcile balance export}
step() { case " $STEPS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

if step reconcile; then
log "1. reconcile"
on sqlite && measure reconcile "payrecon (SQLite)" "$N" -- "${TO[@]}" "$BIN" reconcile --db "sqlite://$D/pay.db" \
    --statement "$D/stmt.csv" --format hfb --day 2026-11-20 --out "$OUT/recon-sqlite"
on pg && measure reconcile "payrecon (PostgreSQL)" "$N" -- "${TO[@]}" "$BIN" reconcile --db "$PGURL" \
    --statement "$D/stmt.csv" --format hfb --day 2026-11-20 --out "$OUT/recon-pg"
on mariadb && measure reconcile "payrecon (MariaDB)" "$N" -- "${TO[@]}" "$BIN" reconcile --db "$MYURL" \
    --statement "$D/stmt.csv" --format hfb --day 2026-11-20 --out "$OUT/recon-mariadb"
measure reconcile "DuckDB (CSV, incl. load)" "$N" -- "${TO[@]}" python3 "$HERE/duckdb_recon.py" \
    "$D/flows.csv" "$D/stmt.csv" "$OUT/recon-duckdb"
# What a user starting from the database does: export the day's recharge flows (the same four
# columns and rows as flows.csv) with the database's own CSV tool, then the same DuckDB join.
FLOWS_SQL="SELECT trans_no, user_id, trans_amount, create_time FROM trans_flow WHERE trans_type = 1 AND is_deleted = 0"
X_CSV="$OUT/flows-x.csv"
on sqlite && measure reconcile "sqlite3 -csv export, then DuckDB" "$N" -- "${TO[@]}" sh -c \
    'sqlite3 -readonly -csv -header "$1" "$2" > "$3" && python3 "$4" "$3" "$5" "$6"' \
    sh "$D/pay.db" "$FLOWS_SQL" "$X_CSV" "$HERE/duckdb_recon.py" "$D/stmt.csv" "$OUT/recon-duckdb-x"
on pg && measure reconcile "psql \\copy export, then DuckDB" "$N" -- "${TO[@]}" sh -c \
    'c=$1 x=$2 py=$3 st=$4 o=$5; shift 5; "$@" -c "$c" && python3 "$py" "$x" "$st" "$o"' \
    sh "\\copy ($FLOWS_SQL) TO '$X_CSV' csv header" "$X_CSV" "$HERE/duckdb_recon.py" "$D/stmt.csv" \
    "$OUT/recon-duckdb-x" "${PSQL[@]}"
# mariadb -B writes tab-separated lines under a header of the column names, which DuckDB's
# read_csv takes as they are (it detects the tab); --quick streams the rows instead of holding
# the whole result in the client.
on mariadb && measure reconcile "mariadb -B export, then DuckDB" "$N" -- "${TO[@]}" sh -c \
    'c=$1 x=$2 py=$3 st=$4 o=$5; shift 5; "$@" -B --quick -e "$c" > "$x" && python3 "$py" "$x" "$st" "$o"' \
    sh "$FLOWS_SQL" "$X_CSV" "$HERE/duckdb_recon.py" "$D/stmt.csv" "$OUT/recon-duckdb-x" "${MYSQL[@]}"
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
BAL_MY=$BAL_PG # the same query: DECIMAL sums are exact on both
if on sqlite; then
measure "balance check" "payrecon, all checks (SQLite)" "$N" -- "${TO[@]}" "$BIN" reconcile --db "sqlite://$D/pay.db" --out "$OUT/checks-sqlite"
measure "balance check" "sqlite3 GROUP BY" "$N" -- "${TO[@]}" sh -c 'sqlite3 -readonly "$1" "$2" > "$3"' sh "$D/pay.db" "$BAL_SQLITE" "$OUT/bal-sqlite3.txt"
fi
if on pg; then
measure "balance check" "payrecon, all checks (PostgreSQL)" "$N" -- "${TO[@]}" "$BIN" reconcile --db "$PGURL" --out "$OUT/checks-pg"
measure "balance check" "psql GROUP BY" "$N" -- "${TO[@]}" sh -c '"$@"' sh "${PSQL[@]}" -A -t -o "$OUT/bal-psql.txt" -c "$BAL_PG"
fi
if on mariadb; then
measure "balance check" "payrecon, all checks (MariaDB)" "$N" -- "${TO[@]}" "$BIN" reconcile --db "$MYURL" --out "$OUT/checks-mariadb"
measure "balance check" "mariadb GROUP BY" "$N" -- "${TO[@]}" sh -c 'o=$1 q=$2; shift 2; "$@" -B -N --quick -e "$q" > "$o"' \
    sh "$OUT/bal-mariadb.txt" "$BAL_MY" "${MYSQL[@]}"
fi
fi

if step export; then
log "3. export"
COLS="id, user_id, user_name, trans_no, trans_type, trans_type_name, trans_amount, memo, create_time, is_deleted"
if on sqlite; then
measure export "payrecon (SQLite)" "$N" -- "${TO[@]}" "$BIN" export --db "sqlite://$D/pay.db" --view flows --out "$OUT/f-payrecon-sqlite.csv"
measure export "sqlite3 -csv" "$N" -- "${TO[@]}" sh -c 'sqlite3 -readonly -csv -header "$1" "$2" > "$3"' sh "$D/pay.db" \
    "SELECT $COLS FROM trans_flow ORDER BY id" "$OUT/f-sqlite3.csv"
fi
if on pg; then
measure export "payrecon (PostgreSQL)" "$N" -- "${TO[@]}" "$BIN" export --db "$PGURL" --view flows --out "$OUT/f-payrecon-pg.csv"
measure export "psql \\copy" "$N" -- "${TO[@]}" "${PSQL[@]}" -c "\\copy (SELECT $COLS FROM trans_flow ORDER BY id) TO '$OUT/f-psql.csv' csv header"
fi
if on mariadb; then
measure export "payrecon (MariaDB)" "$N" -- "${TO[@]}" "$BIN" export --db "$MYURL" --view flows --out "$OUT/f-payrecon-mariadb.csv"
# mariadb's own file export is tab-separated with a header (SELECT … INTO OUTFILE would write on
# the server's side, as its user, and has no header).
measure export "mariadb -B" "$N" -- "${TO[@]}" sh -c 'o=$1 q=$2; shift 2; "$@" -B --quick -e "$q" > "$o"' \
    sh "$OUT/f-mariadb.tsv" "SELECT $COLS FROM trans_flow ORDER BY id" "${MYSQL[@]}"
fi
[ "${KEEP_EXPORTS:-0}" = 1 ] || rm -f "$OUT"/f-*.csv "$OUT"/f-*.tsv
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
    if [ -s "$D/load.tsv" ]; then
        echo "Loading the generated rows (database created, migrate, bulk load of the CSVs written from SQLite, ANALYZE; writing the CSVs not counted):"
        awk -F'\t' '{ printf "    %s %.1f s\n", $1, $2 }' "$D/load.tsv"
    fi
    for b in SQLite PostgreSQL MariaDB; do
        f="$OUT/reconcile-payrecon__${b}_.stdout"
        [ -s "$f" ] || continue
        echo "payrecon findings ($b reconcile):"
        sed -n '/^  [a-z_]* *[0-9]/p' "$f" | sed 's/^/    /'
    done
    echo "DuckDB breaks:"
    sed 's/^/    /' "$OUT/reconcile-DuckDB__CSV__incl__load_.stdout" 2>/dev/null
} | tee "$D/report.md"

if [ "${KEEP:-1}" = 0 ]; then
    rm -rf "$D"
    if on pg; then psql -X -q -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres -c "DROP DATABASE $PGDB"; fi
    if on mariadb; then "${MYSQL_NODB[@]}" -e "DROP DATABASE $MYDB"; fi
fi
