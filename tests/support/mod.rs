//! Shared integration-test support: throwaway database servers on loopback.
//!
//! Every test binary that says `mod support;` gets [`fresh_db`], which hands out a new,
//! empty database on one of the three backends:
//!
//! * SQLite: a new (empty) file in its own temporary directory.
//! * PostgreSQL: a private cluster (`initdb` + `postgres`) started by this module.
//! * MariaDB: a private server (`mariadb-install-db` + `mariadbd`) started by this module.
//!
//! Servers are started lazily, at most once per test process, on a free `127.0.0.1` port
//! with their data, sockets and logs in a temporary directory (on `/dev/shm` when it has
//! room, because fsync there is free; override with `PAYRECON_TEST_TMPDIR`). Rust tests have
//! no teardown, so each server runs under a small `sh` watchdog that holds the read end of a
//! pipe whose write end only the test process has: when the test process exits, for any
//! reason, the pipe closes, and the watchdog stops the server and removes its directory.
//!
//! PostgreSQL refuses to run as root; when the tests run as root, `initdb` and `postgres`
//! run as the `postgres` user (or `nobody`) through `setpriv`. MariaDB runs with
//! `--user=root` in that case.
//!
//! A missing server binary makes every test that needs it fail with a message naming the
//! package to install; nothing is skipped for it. The one skip is a test that reads
//! `../shared` (the contract's fixtures and real-world samples) in a clone that has no
//! `../shared` beside it: see [`require_shared!`](crate::require_shared) — under `CI=true` that fails too.

#![allow(dead_code)]

use std::ffi::OsString;
use std::fs;
use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sqlx::Connection as _;

/// The database backends payrecon supports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file.
    Sqlite,
    /// PostgreSQL (a private cluster started by this module).
    Postgres,
    /// MySQL protocol (a private MariaDB server started by this module).
    MySql,
}

/// Every backend, for tests that run the same checks against all of them.
pub const ALL: [Backend; 3] = [Backend::Sqlite, Backend::Postgres, Backend::MySql];

/// A fresh, empty database; dropping it may leave the database behind (the cluster is throwaway).
#[derive(Debug)]
pub struct TestDb {
    /// Connection URL: `sqlite:///abs/path/test.db`, `postgres://postgres@127.0.0.1:PORT/NAME`
    /// or `mysql://root@127.0.0.1:PORT/NAME`.
    pub url: String,
    /// Which backend the database lives on.
    pub backend: Backend,
    /// The database name on the server (for SQLite, the file's name).
    pub name: String,
    /// Keeps the SQLite file's directory alive until the `TestDb` is dropped.
    _dir: Option<tempfile::TempDir>,
}

/// Creates a new, uniquely named, empty database on `backend` (starting its server if needed).
pub async fn fresh_db(backend: Backend) -> TestDb {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = format!("payrecon_t_{}_{n}", std::process::id());
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::Builder::new()
                .prefix("payrecon-sqlite-")
                .tempdir_in(scratch_base())
                .unwrap_or_else(|e| {
                    panic!(
                        "cannot create a temp dir in {}: {e}",
                        scratch_base().display()
                    )
                });
            let path = dir.path().join("test.db");
            // An empty file is a valid empty SQLite database, so the URL works without `mode=rwc`.
            fs::File::create(&path)
                .unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
            TestDb {
                url: format!("sqlite://{}", path.display()),
                backend,
                name: "test.db".to_owned(),
                _dir: Some(dir),
            }
        }
        Backend::Postgres => {
            let server = server(Kind::Postgres).await;
            let sql = format!("CREATE DATABASE \"{name}\" ENCODING 'UTF8'");
            create_database(backend, &pg_url(server.port, "postgres"), sql).await;
            TestDb {
                url: pg_url(server.port, &name),
                backend,
                name,
                _dir: None,
            }
        }
        Backend::MySql => {
            let server = server(Kind::MariaDb).await;
            let sql = format!("CREATE DATABASE `{name}` CHARACTER SET utf8mb4");
            create_database(backend, &mysql_url(server.port, ""), sql).await;
            TestDb {
                url: mysql_url(server.port, &name),
                backend,
                name,
                _dir: None,
            }
        }
    }
}

/// Server-level URL of the test MariaDB (`mysql://root@127.0.0.1:PORT`, no database),
/// starting the server if needed. Blocks while the server starts.
pub fn mysql_admin_url() -> String {
    mysql_url(server_blocking(Kind::MariaDb).port, "")
}

/// Server-level URL of the test PostgreSQL (`postgres://postgres@127.0.0.1:PORT/postgres`),
/// starting the server if needed. Blocks while the server starts.
pub fn postgres_admin_url() -> String {
    pg_url(server_blocking(Kind::Postgres).port, "postgres")
}

fn pg_url(port: u16, db: &str) -> String {
    format!("postgres://postgres@127.0.0.1:{port}/{db}")
}

fn mysql_url(port: u16, db: &str) -> String {
    if db.is_empty() {
        format!("mysql://root@127.0.0.1:{port}")
    } else {
        format!("mysql://root@127.0.0.1:{port}/{db}")
    }
}

/// Runs `sql` on a plain connection to `admin_url`, retrying the connect for a while
/// (the server may be busy with many parallel tests).
async fn create_database(backend: Backend, admin_url: &str, sql: String) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let result = match backend {
            Backend::Postgres => match sqlx::PgConnection::connect(admin_url).await {
                Ok(conn) => Ok(run_sql(conn, &sql).await),
                Err(e) => Err(e),
            },
            Backend::MySql => match sqlx::MySqlConnection::connect(admin_url).await {
                Ok(conn) => Ok(run_sql(conn, &sql).await),
                Err(e) => Err(e),
            },
            Backend::Sqlite => panic!("create_database is not used for SQLite"),
        };
        match result {
            Ok(Ok(())) => return,
            Ok(Err(e)) => panic!("{backend:?} test server: `{sql}` failed: {e}"),
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("{backend:?} test server: cannot connect to {admin_url}: {e}"),
        }
    }
}

async fn run_sql<C>(mut conn: C, sql: &str) -> Result<(), sqlx::Error>
where
    C: sqlx::Connection,
    for<'c> &'c mut C: sqlx::Executor<'c>,
{
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&mut conn)
        .await?;
    conn.close().await
}

// ---------------------------------------------------------------------------------------------
// Server lifecycle
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Postgres,
    MariaDb,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Postgres => "PostgreSQL",
            Kind::MariaDb => "MariaDB",
        }
    }
}

/// A running server. It lives in a `static` and is never dropped: the process exit closes
/// `_lifeline`, which tells the watchdog to stop the server and delete `dir`.
struct Server {
    port: u16,
    dir: PathBuf,
    _lifeline: ChildStdin,
    _watchdog: Child,
}

fn cell(kind: Kind) -> &'static OnceLock<Result<Server, String>> {
    static PG: OnceLock<Result<Server, String>> = OnceLock::new();
    static MARIA: OnceLock<Result<Server, String>> = OnceLock::new();
    match kind {
        Kind::Postgres => &PG,
        Kind::MariaDb => &MARIA,
    }
}

/// The server of `kind`, started on a blocking thread so no runtime worker is stalled.
async fn server(kind: Kind) -> &'static Server {
    if let Some(Ok(server)) = cell(kind).get() {
        return server;
    }
    match tokio::task::spawn_blocking(move || server_blocking(kind)).await {
        Ok(server) => server,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => panic!("{} test server startup was cancelled: {e}", kind.label()),
    }
}

/// The server of `kind`, started on this thread if no other thread started it yet. A failed
/// start is remembered, so every later test fails fast with the same message.
fn server_blocking(kind: Kind) -> &'static Server {
    match cell(kind).get_or_init(|| start(kind)) {
        Ok(server) => server,
        Err(msg) => panic!("{msg}"),
    }
}

fn start(kind: Kind) -> Result<Server, String> {
    let t0 = Instant::now();
    let mut last = String::new();
    // A port picked as free can be taken before the server binds it; then try another.
    for _ in 0..3 {
        let attempt = match kind {
            Kind::Postgres => start_postgres(),
            Kind::MariaDb => start_mariadb(),
        };
        match attempt {
            Ok(server) => {
                eprintln!(
                    "payrecon test support: {} ready on 127.0.0.1:{} in {:.2?} ({})",
                    kind.label(),
                    server.port,
                    t0.elapsed(),
                    server.dir.display()
                );
                return Ok(server);
            }
            Err(e) if e.contains("Address already in use") => last = e,
            Err(e) => return Err(e),
        }
    }
    Err(last)
}

fn start_postgres() -> Result<Server, String> {
    let bin = postgres_bin_dir().ok_or_else(|| {
        "PostgreSQL server binaries (initdb, postgres) were not found on PATH or under \
         /usr/lib/postgresql/*/bin: install them with `apt-get install postgresql`."
            .to_owned()
    })?;
    // PostgreSQL refuses to run as root: run it as an unprivileged user that owns the dir.
    let run_as = if effective_uid() == Some(0) {
        Some(unprivileged_user()?)
    } else {
        None
    };
    let dir = new_server_dir("payrecon-pg-")?;
    if let Some(user) = &run_as
        && let Err(e) = std::os::unix::fs::chown(&dir, Some(user.uid), Some(user.gid))
    {
        let _ = fs::remove_dir_all(&dir);
        return Err(format!(
            "cannot chown {} to {}: {e}",
            dir.display(),
            user.name
        ));
    }
    let data = dir.join("data");
    let as_user = |program: PathBuf| -> Vec<OsString> {
        let mut argv = Vec::new();
        if let Some(user) = &run_as {
            argv.push("setpriv".into());
            argv.push(format!("--reuid={}", user.uid).into());
            argv.push(format!("--regid={}", user.gid).into());
            argv.push("--clear-groups".into());
            argv.push("--".into());
        }
        argv.push(program.into_os_string());
        argv
    };

    // C.UTF-8 gives Unicode-aware ctype with byte-order collation; fall back to plain C.
    let mut init_log = String::new();
    let mut initialized = false;
    for locale in ["C.UTF-8", "C"] {
        let mut argv = as_user(bin.join("initdb"));
        for a in [
            "-D".into(),
            data.clone().into_os_string(),
            "-U".into(),
            "postgres".into(),
            "-A".into(),
            "trust".into(),
            "-E".into(),
            "UTF8".into(),
            format!("--locale={locale}").into(),
            "--no-sync".into(),
            "--no-instructions".into(),
        ] {
            argv.push(a);
        }
        let log = dir.join("initdb.log");
        let ok = run_to_log(&argv, &log);
        init_log = fs::read_to_string(&log).unwrap_or_default();
        if ok {
            initialized = true;
            break;
        }
        let _ = fs::remove_dir_all(&data);
    }
    if !initialized {
        let _ = fs::remove_dir_all(&dir);
        let hint = if run_as.is_some() {
            format!(
                " (as root, initdb runs as an unprivileged user, which must be able to reach {})",
                scratch_base().display()
            )
        } else {
            String::new()
        };
        return Err(format!("initdb failed{hint}:\n{}", tail(&init_log, 30)));
    }

    let port = free_port()?;
    let mut argv = as_user(bin.join("postgres"));
    let settings = [
        "listen_addresses=127.0.0.1".to_owned(),
        format!("port={port}"),
        format!("unix_socket_directories={}", dir.display()),
        "max_connections=500".to_owned(),
        "shared_buffers=64MB".to_owned(),
        "fsync=off".to_owned(),
        "synchronous_commit=off".to_owned(),
        "full_page_writes=off".to_owned(),
        "log_min_messages=warning".to_owned(),
    ];
    argv.push("-D".into());
    argv.push(data.clone().into_os_string());
    for s in settings {
        argv.push("-c".into());
        argv.push(s.into());
    }
    // SIGQUIT: immediate shutdown; the data is throwaway.
    let (watchdog, lifeline) = supervise(&dir, "QUIT", &dir.join("postgres.log"), &argv)?;
    let pid_file = data.join("postmaster.pid");
    wait_ready(
        Kind::Postgres,
        &dir,
        "postgres.log",
        port,
        watchdog,
        lifeline,
        || {
            // Line 8 of postmaster.pid is the postmaster's status: "ready" once it takes connections.
            fs::read_to_string(&pid_file)
                .map(|s| s.lines().nth(7).map(str::trim) == Some("ready"))
                .unwrap_or(false)
        },
    )
}

fn start_mariadb() -> Result<Server, String> {
    const MISSING: &str = "MariaDB server binaries (mariadb-install-db, mariadbd) were not \
                           found: install them with `apt-get install mariadb-server`.";
    let sbin = ["/usr/sbin", "/usr/local/sbin", "/usr/bin", "/usr/local/bin"];
    let install_db = find_exe(&["mariadb-install-db", "mysql_install_db"], &sbin)
        .ok_or_else(|| MISSING.to_owned())?;
    let mariadbd = find_exe(&["mariadbd", "mysqld"], &sbin).ok_or_else(|| MISSING.to_owned())?;

    let dir = new_server_dir("payrecon-mariadb-")?;
    let data = dir.join("data");
    let mut common: Vec<OsString> = vec![
        "--no-defaults".into(),
        format!("--datadir={}", data.display()).into(),
    ];
    // mariadbd refuses to run as root unless told so explicitly.
    if effective_uid() == Some(0) {
        common.push("--user=root".into());
    }
    for opt in [
        "--skip-name-resolve",
        "--innodb-buffer-pool-size=64M",
        "--innodb-log-file-size=32M",
        "--innodb-flush-log-at-trx-commit=2",
        "--innodb-doublewrite=0",
        "--innodb-buffer-pool-dump-at-shutdown=0",
        "--innodb-buffer-pool-load-at-startup=0",
        "--character-set-server=utf8mb4",
    ] {
        common.push(opt.into());
    }

    let mut argv: Vec<OsString> = vec![install_db.into_os_string()];
    argv.extend(common.iter().cloned());
    for opt in ["--auth-root-authentication-method=normal", "--skip-test-db"] {
        argv.push(opt.into());
    }
    let log = dir.join("install-db.log");
    if !run_to_log(&argv, &log) {
        let text = fs::read_to_string(&log).unwrap_or_default();
        let _ = fs::remove_dir_all(&dir);
        return Err(format!("mariadb-install-db failed:\n{}", tail(&text, 30)));
    }

    let port = free_port()?;
    let mut argv: Vec<OsString> = vec![mariadbd.into_os_string()];
    argv.extend(common);
    for opt in [
        format!("--port={port}"),
        "--bind-address=127.0.0.1".to_owned(),
        format!("--socket={}", dir.join("mysqld.sock").display()),
        format!("--pid-file={}", dir.join("mysqld.pid").display()),
        format!("--tmpdir={}", dir.display()),
        "--max-connections=500".to_owned(),
        "--max-allowed-packet=64M".to_owned(),
        "--skip-log-bin".to_owned(),
    ] {
        argv.push(opt.into());
    }
    let (watchdog, lifeline) = supervise(&dir, "TERM", &dir.join("mariadb.log"), &argv)?;
    // mariadbd opens its TCP listener only once it is ready for connections.
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    wait_ready(
        Kind::MariaDb,
        &dir,
        "mariadb.log",
        port,
        watchdog,
        lifeline,
        || TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok(),
    )
}

/// Watchdog: starts the server as its own child, waits for EOF on stdin (the test process is
/// gone), then stops the server (escalating to SIGKILL after 15 s), reaps it and removes the
/// server's directory. `$dir/server.exit` appears as soon as the server has exited.
const WATCHDOG_SH: &str = r#"
dir=$1; sig=$2; shift 2
exec 3<&0 </dev/null
"$@" 3<&- &
spid=$!
(
  read -r line <&3
  [ -e "$dir/server.exit" ] || kill -s "$sig" "$spid" 2>/dev/null
  n=0
  while [ ! -e "$dir/server.exit" ] && kill -0 "$spid" 2>/dev/null; do
    n=$((n + 1))
    if [ "$n" -ge 300 ]; then kill -s KILL "$spid" 2>/dev/null; break; fi
    sleep 0.05
  done
) &
exec 3<&-
wait "$spid"
echo "$?" > "$dir/server.exit"
wait
rm -rf "$dir"
"#;

/// Spawns `argv` under the watchdog, in its own process group (a Ctrl-C aimed at the test
/// run reaches only the test process; the watchdog then cleans up).
fn supervise(
    dir: &Path,
    stop_signal: &str,
    log: &Path,
    argv: &[OsString],
) -> Result<(Child, ChildStdin), String> {
    let log_file = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| format!("cannot open {}: {e}", log.display()))?;
    let log_err = log_file
        .try_clone()
        .map_err(|e| format!("cannot dup {}: {e}", log.display()))?;
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(WATCHDOG_SH)
        .arg("payrecon-test-watchdog")
        .arg(dir)
        .arg(stop_signal)
        .args(argv)
        .stdin(Stdio::piped())
        .stdout(log_file)
        .stderr(log_err)
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start the server watchdog (sh): {e}"))?;
    match child.stdin.take() {
        Some(lifeline) => Ok((child, lifeline)),
        None => Err("the server watchdog has no stdin pipe".to_owned()),
    }
}

/// Polls `ready` until it holds, the server exits, or 60 s pass.
fn wait_ready(
    kind: Kind,
    dir: &Path,
    log_name: &str,
    port: u16,
    mut watchdog: Child,
    lifeline: ChildStdin,
    mut ready: impl FnMut() -> bool,
) -> Result<Server, String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let exited = dir.join("server.exit");
    loop {
        if ready() {
            return Ok(Server {
                port,
                dir: dir.to_path_buf(),
                _lifeline: lifeline,
                _watchdog: watchdog,
            });
        }
        let dead = exited.exists();
        if dead || Instant::now() >= deadline {
            let log = fs::read_to_string(dir.join(log_name)).unwrap_or_default();
            // Closing the lifeline makes the watchdog stop the server and remove `dir`.
            drop(lifeline);
            let _ = watchdog.wait();
            let what = if dead {
                "exited during startup"
            } else {
                "was not ready after 60 s"
            };
            return Err(format!(
                "{} test server on 127.0.0.1:{port} {what}; its log ends with:\n{}",
                kind.label(),
                tail(&log, 30)
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs a short-lived setup command with all output going to `log`; true if it succeeded.
fn run_to_log(argv: &[OsString], log: &Path) -> bool {
    let Some((program, args)) = argv.split_first() else {
        return false;
    };
    let Ok(mut out) = fs::File::create(log) else {
        return false;
    };
    let Ok(err) = out.try_clone() else {
        return false;
    };
    let _ = writeln!(out, "$ {argv:?}");
    match Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .status()
    {
        Ok(status) => status.success(),
        Err(e) => {
            let _ = fs::write(log, format!("cannot run {program:?}: {e}\n"));
            false
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Environment helpers
// ---------------------------------------------------------------------------------------------

/// Where servers and SQLite files live: `$PAYRECON_TEST_TMPDIR`, else `/dev/shm` when it has
/// at least 1 GiB free (tmpfs makes fsync free: MariaDB bootstraps ~6x faster), else the
/// system temp dir.
fn scratch_base() -> &'static Path {
    static BASE: OnceLock<PathBuf> = OnceLock::new();
    BASE.get_or_init(|| {
        if let Some(dir) = std::env::var_os("PAYRECON_TEST_TMPDIR") {
            return PathBuf::from(dir);
        }
        let shm = Path::new("/dev/shm");
        if shm.is_dir() && free_kib(shm).is_some_and(|kib| kib >= 1024 * 1024) {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        }
    })
}

fn free_kib(path: &Path) -> Option<u64> {
    let out = Command::new("df")
        .arg("-Pk")
        .arg(path)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().nth(1)?.split_whitespace().nth(3)?.parse().ok()
}

fn new_server_dir(prefix: &str) -> Result<PathBuf, String> {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(scratch_base())
        .map(tempfile::TempDir::keep)
        .map_err(|e| {
            format!(
                "cannot create a temp dir in {}: {e}",
                scratch_base().display()
            )
        })
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("cannot find a free port on 127.0.0.1: {e}"))
}

fn effective_uid() -> Option<u32> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

struct User {
    name: String,
    uid: u32,
    gid: u32,
}

/// `postgres` if that account exists, else `nobody`.
fn unprivileged_user() -> Result<User, String> {
    let passwd = fs::read_to_string("/etc/passwd").unwrap_or_default();
    for wanted in ["postgres", "nobody"] {
        for line in passwd.lines() {
            let fields: Vec<&str> = line.split(':').collect();
            if fields.len() >= 4
                && fields[0] == wanted
                && let (Ok(uid), Ok(gid)) = (fields[2].parse(), fields[3].parse())
            {
                return Ok(User {
                    name: wanted.to_owned(),
                    uid,
                    gid,
                });
            }
        }
    }
    Err(
        "tests run as root, and PostgreSQL refuses root, but neither a `postgres` nor a \
         `nobody` account exists to run it as: create one (e.g. `apt-get install postgresql`)."
            .to_owned(),
    )
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The first of `names` found on PATH or in `extra_dirs` (earlier names win).
fn find_exe(names: &[&str], extra_dirs: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    dirs.extend(extra_dirs.iter().map(PathBuf::from));
    names.iter().find_map(|name| {
        dirs.iter()
            .map(|d| d.join(name))
            .find(|candidate| is_executable(candidate))
    })
}

/// The directory holding `initdb` and `postgres`: wherever `initdb` on PATH really lives,
/// else the newest `/usr/lib/postgresql/*/bin`, else `/usr/local/pgsql/bin`.
fn postgres_bin_dir() -> Option<PathBuf> {
    let complete =
        |dir: &Path| is_executable(&dir.join("initdb")) && is_executable(&dir.join("postgres"));
    if let Some(initdb) = find_exe(&["initdb"], &[])
        && let Some(dir) = fs::canonicalize(&initdb)
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf))
        && complete(&dir)
    {
        return Some(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .collect();
    versions.sort();
    versions
        .into_iter()
        .rev()
        .map(|(_, dir)| dir)
        .chain([PathBuf::from("/usr/local/pgsql/bin")])
        .find(|dir| complete(dir))
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Runs the `payrecon` binary as a user would, with `home` as its home and
/// data directory and no `PAYRECON_DATABASE_URL`; returns (exit code, stdout, stderr).
pub fn payrecon_cli(bin: &str, args: &[&str], home: &Path) -> (i32, String, String) {
    let out = std::process::Command::new(bin)
        .args(args)
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env_remove("PAYRECON_DATABASE_URL")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {bin}: {e}"));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `../shared` beside this checkout (`$CARGO_MANIFEST_DIR/../shared`: the contract, fixtures
/// and real-world samples), or `None` when a clone lives somewhere without it.
pub fn shared_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared"));
    dir.is_dir().then_some(dir)
}

/// The sentence said when `../shared` is missing; `needed_for` names what the test wanted.
pub fn shared_missing_sentence(needed_for: &str) -> String {
    format!("skipped: ../shared is not beside this checkout (needed for {needed_for})")
}

/// `../shared` for a test that needs it. When it is absent, prints one line and returns
/// `None` (the caller returns: the test is skipped) — except under CI (`CI=true`), where
/// `../shared` must be there and its absence fails the test with the same sentence.
/// Most tests use [`require_shared!`](crate::require_shared) instead.
pub fn shared_or_skip(needed_for: &str) -> Option<PathBuf> {
    if let Some(dir) = shared_dir() {
        return Some(dir);
    }
    let sentence = shared_missing_sentence(needed_for);
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{sentence}");
    }
    println!("{sentence}");
    None
}

/// `require_shared!("what for")` at the top of a test: evaluates to the `../shared` directory,
/// or prints one "skipped: …" line and returns from the test when it is absent (a failure
/// under `CI=true`; see [`shared_or_skip`]).
#[macro_export]
macro_rules! require_shared {
    ($needed_for:expr) => {
        match $crate::support::shared_or_skip($needed_for) {
            Some(dir) => dir,
            None => return,
        }
    };
}

/// Loads the real srb MySQL schema dump (`../shared/fixtures/srb_core.sql`),
/// unmodified, into a fresh MariaDB database and returns it; `None` (after the one
/// "skipped" line of [`shared_or_skip`]) when `../shared` is absent, so the caller
/// returns: `let Some(t) = support::srb_dump_db().await else { return };`.
pub async fn srb_dump_db() -> Option<TestDb> {
    let shared = shared_or_skip("fixtures/srb_core.sql, the srb MySQL dump")?;
    Some(mysql_dump_db(&shared.join("fixtures/srb_core.sql")).await)
}

/// Loads the MySQL dump at `path` into a fresh MariaDB database and returns it. The dump is
/// loaded as it is, except that top-level `CREATE DATABASE …` and `USE …` lines, if it has
/// any, are left out, so that the load lands in the test's own database instead of one
/// named by the dump (the dumps in `../shared` have none today: they load byte for byte).
pub async fn mysql_dump_db(path: &Path) -> TestDb {
    let t = fresh_db(Backend::MySql).await;
    let dump = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let dump = without_database_switches(&dump);
    let mut conn = sqlx::MySqlConnection::connect(&t.url)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {}: {e}", t.url));
    sqlx::Executor::execute(&mut conn, sqlx::raw_sql(sqlx::AssertSqlSafe(dump)))
        .await
        .unwrap_or_else(|e| panic!("cannot load {}: {e}", path.display()));
    let _ = conn.close().await;
    t
}

/// `dump` without its `CREATE DATABASE` / `CREATE SCHEMA` / `USE` lines (also in their
/// `/*!40000 … */` versioned-comment form); every other line is kept unchanged.
fn without_database_switches(dump: &str) -> String {
    let switches = |line: &str| {
        let l = line.trim_start().to_ascii_uppercase();
        let l = match l.strip_prefix("/*!") {
            Some(rest) => rest
                .trim_start_matches(|c: char| c.is_ascii_digit())
                .trim_start()
                .to_owned(),
            None => l,
        };
        l.starts_with("CREATE DATABASE")
            || l.starts_with("CREATE SCHEMA")
            || l.starts_with("USE ")
            || l.starts_with("USE`")
    };
    let mut out = String::with_capacity(dump.len());
    for line in dump.split_inclusive('\n') {
        if !switches(line) {
            out.push_str(line);
        }
    }
    out
}
