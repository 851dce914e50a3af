//! The `payrecon` command line (SPEC §7).

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use payrecon::db::{ConnectOptions, Db, schema};
use payrecon::payment::HandlerKind;
use payrecon::recon::RunOptions;
use payrecon::simulate::{self, Faults, SimConfig};
use payrecon::{demo, money};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "payrecon",
    version,
    about = "payrecon · 支付对账台 — payment idempotency and reconciliation console"
)]
struct Cli {
    /// payrecon's own workspace database (runs, findings, resolutions, audit log).
    #[arg(long, global = true, env = "PAYRECON_WORKSPACE")]
    workspace: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Create and fill the demo database (SQLite in the data directory, or --db).
    Demo {
        /// Where: a SQLite file or an empty server database.
        #[arg(long, env = "PAYRECON_DATABASE_URL")]
        db: Option<String>,
        /// Seed of the simulated days.
        #[arg(long, default_value_t = 2026)]
        seed: u64,
    },
    /// Create the contract tables (SPEC §3) that are missing; existing tables are kept.
    Migrate {
        /// Database URL.
        #[arg(long, env = "PAYRECON_DATABASE_URL")]
        db: String,
    },
    /// Show which contract tables and indexes a database has (read-only).
    Schema {
        /// Database URL.
        #[arg(long, env = "PAYRECON_DATABASE_URL")]
        db: String,
    },
    /// Simulate a business day of recharges with hfb's retrying gateway.
    Simulate(Box<SimulateArgs>),
    /// Reconcile: every check of SPEC §4, and statements against the flows (read-only).
    Reconcile(Box<ReconcileArgs>),
    /// Export a view with its filters to CSV or Excel (.xlsx) (read-only).
    Export(Box<ExportArgs>),
    /// The whole story of a recharge or a user, with a verdict (read-only).
    Case(CaseArgs),
    /// The findings queue in the workspace: list, show, acknowledge, resolve, accept.
    #[command(subcommand)]
    Findings(FindingsCmd),
    /// The workspace's hash-chained audit log.
    #[command(subcommand)]
    Audit(AuditCmd),
    /// Open the desktop console (the default when no command is given).
    Gui(GuiArgs),
}

#[derive(clap::Args, Default)]
struct GuiArgs {
    /// Payment database URL (opened read-only); default: the embedded demo, built on first run.
    #[arg(long, env = "PAYRECON_DATABASE_URL")]
    db: Option<String>,
    /// The screen to open.
    #[arg(long, value_enum)]
    view: Option<payrecon::gui::Screen>,
    /// A case search to run at start (phone, user id, name or agentBillNo).
    #[arg(long)]
    case: Option<String>,
    /// Language: zh or en (default: the system locale).
    #[arg(long)]
    lang: Option<String>,
    /// Render the view to this PNG file once its data has loaded, and exit.
    #[arg(long)]
    screenshot: Option<PathBuf>,
    /// Theme for this run: light, dark or system (default: the one remembered).
    #[arg(long)]
    theme: Option<String>,
}

#[derive(Subcommand)]
enum AuditCmd {
    /// Check the chain: exit 0 intact, 1 edited or deleted entries found.
    Verify,
    /// Print the last entries.
    Show {
        /// How many.
        #[arg(long, default_value_t = 20)]
        last: u32,
    },
}

#[derive(Subcommand)]
enum FindingsCmd {
    /// List findings (newest problems first).
    List {
        /// Only this status.
        #[arg(long, value_enum)]
        status: Vec<payrecon::workspace::Status>,
        /// Only this kind (e.g. duplicate_credit).
        #[arg(long)]
        kind: Vec<String>,
        /// Only at least this old (days).
        #[arg(long)]
        min_age_days: Option<i64>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// One finding with its history.
    Show {
        /// Finding id.
        id: i64,
    },
    /// Change a finding's status (resolve and accept need --note).
    Set {
        /// Finding id.
        id: i64,
        /// New status.
        #[arg(long, value_enum)]
        status: payrecon::workspace::Status,
        /// Why (required for resolved, accepted and reopening).
        #[arg(long, default_value = "")]
        note: String,
    },
}

/// What `export` can write.
#[derive(Clone, Copy, clap::ValueEnum)]
enum ExportView {
    /// trans_flow.
    Flows,
    /// recharge_order.
    Orders,
    /// notify_log.
    Notify,
    /// idempotency_record.
    Idempotency,
    /// user_account with stored, expected and difference.
    Accounts,
    /// The workspace's findings for this database, with status and age.
    Findings,
}

#[derive(clap::Args)]
struct ExportArgs {
    /// Payment database URL (opened read-only).
    #[arg(long, env = "PAYRECON_DATABASE_URL")]
    db: String,
    /// Which view: a table of the payment database, or the workspace's findings.
    #[arg(long, value_enum)]
    view: ExportView,
    /// Business key: agentBillNo / trans_no / idempotency seq.
    #[arg(long, alias = "bill")]
    key: Option<String>,
    /// User id.
    #[arg(long)]
    user: Option<i64>,
    /// Flow type code (1 recharge … 8 withdraw).
    #[arg(long = "type")]
    trans_type: Option<i64>,
    /// Order status (0–3 or 已支付 …), notify outcome, or idempotency status;
    /// findings: open, acknowledged, resolved, accepted (comma-separated) or all.
    #[arg(long)]
    status: Option<String>,
    /// From (inclusive): YYYY-MM-DD or "YYYY-MM-DD HH:MM:SS", business time.
    #[arg(long)]
    from: Option<String>,
    /// To (exclusive), same forms.
    #[arg(long)]
    to: Option<String>,
    /// Minimum amount.
    #[arg(long)]
    min_amount: Option<String>,
    /// Maximum amount.
    #[arg(long)]
    max_amount: Option<String>,
    /// Accounts: only those whose balance differs from their flows.
    #[arg(long)]
    mismatched: bool,
    /// The file to write: CSV, or an Excel workbook when it ends in .xlsx.
    #[arg(long)]
    out: PathBuf,
    /// The file format (default: from --out's extension, .xlsx is Excel, else CSV).
    #[arg(long, value_enum)]
    format: Option<payrecon::export::ExportFormat>,
    /// CSV: write a UTF-8 BOM so that Excel opens the file correctly.
    #[arg(long)]
    bom: bool,
    /// Findings: only this kind (repeat for several; e.g. duplicate_credit).
    #[arg(long)]
    kind: Vec<String>,
    /// Findings: only this severity (repeat for several).
    #[arg(long, value_enum)]
    severity: Vec<payrecon::recon::Severity>,
    /// Findings: only at least this many days old.
    #[arg(long)]
    min_age_days: Option<i64>,
    /// Findings: the queue grouped by bill or by user (rows of a group together, with a group column).
    #[arg(long, value_enum)]
    group_by: Option<payrecon::workspace::GroupBy>,
    /// Findings: the order (severity, amount, age, kind, key).
    #[arg(long, value_enum, default_value = "severity")]
    sort: payrecon::workspace::QueueSort,
    /// Findings: the order reversed.
    #[arg(long)]
    reverse: bool,
}

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("who").required(true).args(["bill", "user", "mobile", "name", "query"])))]
struct CaseArgs {
    /// Payment database URL (opened read-only).
    #[arg(long, env = "PAYRECON_DATABASE_URL")]
    db: String,
    /// An agentBillNo.
    #[arg(long)]
    bill: Option<String>,
    /// A user id.
    #[arg(long)]
    user: Option<i64>,
    /// A mobile number.
    #[arg(long)]
    mobile: Option<String>,
    /// A name.
    #[arg(long)]
    name: Option<String>,
    /// Whatever the agent was told, as typed in the console's search box:
    /// `+86 138-1234-5678`, a bill number or its beginning, a user id, a name.
    #[arg(long, value_name = "TEXT")]
    query: Option<String>,
    /// JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Also save the case as a self-contained HTML report (timeline and verdict).
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// The report's language: zh or en (default: the system locale's).
    #[arg(long, value_name = "zh|en")]
    lang: Option<String>,
}

#[derive(clap::Args)]
struct ReconcileArgs {
    /// Payment database URL (opened read-only).
    #[arg(long, env = "PAYRECON_DATABASE_URL")]
    db: String,
    /// A gateway statement file; repeat for several (e.g. yesterday's and today's).
    #[arg(long = "statement", value_name = "FILE")]
    statements: Vec<PathBuf>,
    /// Format of each --statement, in the same order (one value applies to all).
    #[arg(
        long = "format",
        value_name = "hfb|wechat|alipay|generic|wechat-fundflow|alipay-accountlog"
    )]
    formats: Vec<String>,
    /// generic format: the column holding the merchant order number.
    #[arg(long)]
    map_key: Option<String>,
    /// generic format: the amount column.
    #[arg(long)]
    map_amount: Option<String>,
    /// generic format: the status column.
    #[arg(long)]
    map_status: Option<String>,
    /// generic format: the payment time column.
    #[arg(long)]
    map_time: Option<String>,
    /// generic format: the file's encoding (default: detected).
    #[arg(long, value_name = "utf8|gbk")]
    encoding: Option<String>,
    /// Business day to reconcile.
    #[arg(long, conflicts_with_all = ["from", "to"])]
    day: Option<chrono::NaiveDate>,
    /// First business day of a range.
    #[arg(long, requires = "to")]
    from: Option<chrono::NaiveDate>,
    /// Last business day of a range (inclusive).
    #[arg(long, requires = "from")]
    to: Option<chrono::NaiveDate>,
    /// Where findings.csv and summary.json go.
    #[arg(long)]
    out: PathBuf,
    /// Exit 1 when a finding at or above this severity exists.
    #[arg(long, value_enum, default_value = "high")]
    fail_on: payrecon::recon::Severity,
    /// Minutes around the day boundary in which an unmatched item is pending, not missing.
    #[arg(long, default_value_t = RunOptions::DEFAULT_WINDOW_MINUTES)]
    window_minutes: i64,
    /// Minutes after which a paying order is stuck.
    #[arg(long, default_value_t = RunOptions::DEFAULT_STUCK_MINUTES)]
    stuck_minutes: i64,
    /// Seconds after which a processing idempotency record is stuck.
    #[arg(long, default_value_t = RunOptions::DEFAULT_LOCK_TTL_SECONDS)]
    lock_ttl_seconds: i64,
    /// Write a UTF-8 BOM so that Excel opens findings.csv correctly.
    #[arg(long)]
    bom: bool,
    /// The contracted fee rate of the WeChat and Alipay bills, e.g. 0.6%: every
    /// successful payment's fee is checked (amount × rate, half-up to the cent).
    /// Per channel: --fee-rate wechat=0.6% --fee-rate alipay=0.38% (hfb=0% checks
    /// that our own gateway charged nothing).
    #[arg(long = "fee-rate", value_name = "RATE|FORMAT=RATE")]
    fee_rates: Vec<String>,
    /// The custodian's per-user balance file (CSV with user_code or bind_code,
    /// amount, freeze_amount: hfb's user_account exported), compared with
    /// user_account through user_info.bind_code.
    #[arg(long, value_name = "FILE")]
    balances: Option<PathBuf>,
}

#[derive(clap::Args)]
struct SimulateArgs {
    /// Database URL (written to: users, orders, callbacks, flows).
    #[arg(long, env = "PAYRECON_DATABASE_URL")]
    db: String,
    /// Notify handler srb runs.
    #[arg(long, value_enum, default_value = "locked")]
    handler: HandlerKind,
    /// Users to create.
    #[arg(long, default_value_t = 50)]
    users: usize,
    /// Recharges in the day.
    #[arg(long, default_value_t = 200)]
    recharges: usize,
    /// Share of notifies delivered by several senders at once.
    #[arg(long, default_value_t = 0.05)]
    duplicate_rate: f64,
    /// Share of attempts whose answer the gateway never receives.
    #[arg(long, default_value_t = 0.05)]
    lost_response_rate: f64,
    /// Share of attempts the gateway stops waiting for (the handler keeps running).
    #[arg(long, default_value_t = 0.02)]
    timeout_rate: f64,
    /// Share of attempts on which the handler fails.
    #[arg(long, default_value_t = 0.0)]
    error_rate: f64,
    /// Share of attempts on which the worker dies after its first write.
    #[arg(long, default_value_t = 0.0)]
    crash_rate: f64,
    /// Share of bills whose every attempt fails (the gateway gives up after 5).
    #[arg(long, default_value_t = 0.0)]
    exhaust_rate: f64,
    /// Share of orders the user abandons (stay paying).
    #[arg(long, default_value_t = 0.0)]
    abandon_rate: f64,
    /// Share of bills re-sent later with a different amount.
    #[arg(long, default_value_t = 0.0)]
    conflict_rate: f64,
    /// Share of abandoned orders that a staging gateway notifies anyway.
    #[arg(long, default_value_t = 0.0)]
    stray_rate: f64,
    /// Senders that deliver a duplicated notify at the same moment.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Bills delivered in parallel.
    #[arg(long, default_value_t = 16)]
    workers: usize,
    /// Random seed (same seed and day → same plan).
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Business day to simulate (default: yesterday).
    #[arg(long)]
    day: Option<chrono::NaiveDate>,
    /// Skip investments, loans and withdrawals.
    #[arg(long)]
    recharges_only: bool,
    /// Write the gateway's hfb statement for the day here.
    #[arg(long)]
    statement_out: Option<PathBuf>,
    /// Write the anomalies the run produced (JSON) here.
    #[arg(long)]
    truth_out: Option<PathBuf>,
}

fn main() -> ExitCode {
    let mut cli = Cli::parse();
    // The console runs its own runtime beside the window, outside this one.
    let gui_args = match cli.command.take() {
        None => Some(GuiArgs::default()),
        Some(Command::Gui(a)) => Some(a),
        Some(other) => {
            cli.command = Some(other);
            None
        }
    };
    if let Some(a) = gui_args {
        return match gui(a, cli.workspace) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::from(2)
            }
        };
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match rt.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            // One clear sentence (with its causes), exit code 2 (SPEC §7).
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        None | Some(Command::Gui(_)) => anyhow::bail!("the console is started before the runtime"),
        Some(Command::Demo { db, seed }) => cmd_demo(db, seed).await,
        Some(Command::Migrate { db }) => {
            let db = Db::connect(&db, &ConnectOptions::read_write()).await?;
            let r = payrecon::db::migrate(&db).await?;
            println!("migrated {}", db.redacted_url());
            println!("  created: {}", list(&r.created));
            println!("  kept as they were: {}", list(&r.kept));
            print_schema(&db).await?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Schema { db }) => {
            let db = Db::connect(&db, &ConnectOptions::read_only()).await?;
            println!("{} ({}, read-only)", db.redacted_url(), db.backend().name());
            print_schema(&db).await?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Simulate(a)) => cmd_simulate(*a).await,
        Some(Command::Reconcile(a)) => cmd_reconcile(*a, cli.workspace).await,
        Some(Command::Export(a)) => cmd_export(*a, cli.workspace).await,
        Some(Command::Case(a)) => cmd_case(a, cli.workspace).await,
        Some(Command::Findings(c)) => cmd_findings(c, cli.workspace).await,
        Some(Command::Audit(c)) => cmd_audit(c, cli.workspace).await,
    }
}

fn list(v: &[&str]) -> String {
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

async fn print_schema(db: &Db) -> anyhow::Result<()> {
    let s = schema::discover(db).await?;
    for l in s.lines() {
        println!("  {l}");
    }
    Ok(())
}

/// The desktop console. It runs its own background runtime beside the
/// window, so it is started outside the command line's runtime.
fn gui(a: GuiArgs, workspace: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let lang = match a.lang.as_deref() {
        None => None,
        Some(w) => Some(payrecon::gui::Lang::parse(w).ok_or_else(|| {
            anyhow::anyhow!("--lang {w} is not a language of the console: use zh or en")
        })?),
    };
    let theme = match a.theme.as_deref().map(str::trim) {
        None => None,
        Some("light") => Some(payrecon::gui::Theme::Light),
        Some("dark") => Some(payrecon::gui::Theme::Dark),
        Some("system") => Some(payrecon::gui::Theme::System),
        Some(w) => anyhow::bail!("--theme {w} is not a theme: use light, dark or system"),
    };
    let opts = payrecon::gui::Options {
        theme,
        db: a.db,
        workspace: workspace.unwrap_or_else(payrecon::workspace::Workspace::default_path),
        screen: a.view,
        lang,
        case_query: a.case,
        system_fonts: true,
    };
    payrecon::gui::run(opts, a.screenshot.clone())?;
    if let Some(p) = a.screenshot {
        println!("screenshot: {}", p.display());
    }
    Ok(ExitCode::SUCCESS)
}

async fn cmd_demo(db: Option<String>, seed: u64) -> anyhow::Result<ExitCode> {
    let last = demo::business_today() - chrono::Duration::days(1);
    match db {
        None => {
            let path = demo::default_demo_path();
            let r = demo::build_sqlite(&path, last, seed).await?;
            print_demo(&r);
        }
        Some(url) => match payrecon::db::DbUrl::parse(&url)? {
            payrecon::db::DbUrl::Sqlite(path) => {
                if path.exists() {
                    anyhow::bail!(
                        "{} already exists; the demo only creates new files (remove it or choose another path)",
                        path.display()
                    );
                }
                let r = demo::build_sqlite(&path, last, seed).await?;
                print_demo(&r);
            }
            _ => {
                let db = Db::connect(&url, &ConnectOptions::read_write()).await?;
                let dir = demo::data_dir();
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
                let (files, truth) = demo::fill(&db, &dir, last, seed).await?;
                println!("demo written to {}", db.redacted_url());
                for f in files {
                    println!("  statement: {}", f.display());
                }
                print_truth(&truth);
            }
        },
    }
    Ok(ExitCode::SUCCESS)
}

fn print_demo(r: &demo::DemoReport) {
    println!("demo database: {}", r.db_path.display());
    for f in &r.statements {
        println!("  statement: {}", f.display());
    }
    println!("  truth: {}", r.truth_path.display());
    print_truth(&r.truth);
}

fn print_truth(t: &simulate::Truth) {
    println!("anomalies produced (finding kind: count):");
    for (k, v) in &t.anomalies {
        println!("  {k:<26} {}", v.len());
    }
}

async fn cmd_simulate(a: SimulateArgs) -> anyhow::Result<ExitCode> {
    let day = a
        .day
        .unwrap_or_else(|| demo::business_today() - chrono::Duration::days(1));
    let mut opts = ConnectOptions::read_write();
    // simulate writes into an existing payment database; it never creates one.
    opts.create_sqlite = false;
    opts.max_connections = 16;
    opts.acquire_timeout = std::time::Duration::from_secs(60);
    let db = Db::connect(&a.db, &opts).await?;
    let cfg = SimConfig {
        handler: a.handler,
        users: a.users,
        recharges: a.recharges,
        concurrency: a.concurrency,
        workers: a.workers,
        day,
        seed: a.seed,
        other_flows: !a.recharges_only,
        faults: Faults {
            duplicate_rate: a.duplicate_rate,
            lost_response_rate: a.lost_response_rate,
            timeout_rate: a.timeout_rate,
            error_rate: a.error_rate,
            crash_rate: a.crash_rate,
            exhaust_rate: a.exhaust_rate,
            abandon_rate: a.abandon_rate,
            conflict_rate: a.conflict_rate,
            stray_rate: a.stray_rate,
            ..Faults::default()
        },
    };
    let started = std::time::Instant::now();
    let r = simulate::run(&db, &cfg).await?;
    if !r.truth.created_tables.is_empty() {
        println!(
            "created missing tables: {}",
            r.truth.created_tables.join(", ")
        );
    }
    println!(
        "simulated {day} on {} with the {} handler in {:.1?}",
        db.redacted_url(),
        a.handler.as_str(),
        started.elapsed()
    );
    println!(
        "  trans_flow.trans_no unique index: {}",
        if r.truth.trans_no_unique { "yes" } else { "NO" }
    );
    for (k, v) in &r.truth.counts {
        println!("  {k:<24} {v}");
    }
    print_truth(&r.truth);
    if let Some(p) = &a.statement_out {
        simulate::write_statement(p, &r.statement)?;
        println!("statement ({} lines): {}", r.statement.len(), p.display());
    }
    if let Some(p) = &a.truth_out {
        simulate::write_truth(p, &r.truth)?;
        println!("truth: {}", p.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn statement_inputs(a: &ReconcileArgs) -> anyhow::Result<Vec<payrecon::recon::StatementInput>> {
    use payrecon::statement::{Format, GenericMapping};
    if !a.formats.is_empty() && a.formats.len() != 1 && a.formats.len() != a.statements.len() {
        anyhow::bail!(
            "{} --format values for {} --statement files: give one format for all, or one per file",
            a.formats.len(),
            a.statements.len()
        );
    }
    let mut out = Vec::new();
    for (i, path) in a.statements.iter().enumerate() {
        let word = a
            .formats
            .get(i)
            .or_else(|| a.formats.first())
            .map(String::as_str)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "--statement {} needs --format hfb|wechat|alipay|generic|wechat-fundflow|alipay-accountlog",
                    path.display()
                )
            })?;
        let mapping = if word.trim().eq_ignore_ascii_case("generic") {
            let (Some(key), Some(amount)) = (a.map_key.clone(), a.map_amount.clone()) else {
                anyhow::bail!(
                    "--format generic needs --map-key and --map-amount (the column names)"
                );
            };
            let encoding = a
                .encoding
                .as_deref()
                .map(str::parse::<payrecon::statement::Encoding>)
                .transpose()?;
            Some(GenericMapping {
                key,
                amount,
                status: a.map_status.clone(),
                time: a.map_time.clone(),
                encoding,
            })
        } else {
            None
        };
        let format =
            Format::parse(word, mapping).map_err(|e| anyhow::anyhow!("--format {word}: {e}"))?;
        if !path.is_file() {
            anyhow::bail!("statement file {} does not exist", path.display());
        }
        out.push(payrecon::recon::StatementInput {
            path: path.clone(),
            format,
        });
    }
    Ok(out)
}

async fn open_workspace(path: Option<PathBuf>) -> anyhow::Result<payrecon::workspace::Workspace> {
    let p = path.unwrap_or_else(payrecon::workspace::Workspace::default_path);
    Ok(payrecon::workspace::Workspace::open(&p).await?)
}

async fn cmd_reconcile(a: ReconcileArgs, workspace: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    use payrecon::recon::{FileRole, Period, RunStatus};
    use std::io::IsTerminal as _;
    let statements = statement_inputs(&a)?;
    let fees = payrecon::recon::fees::FeeRates::parse_args(&a.fee_rates)?;
    if let Some(b) = &a.balances
        && !b.is_file()
    {
        anyhow::bail!("balances file {} does not exist", b.display());
    }
    let period = match (a.day, a.from, a.to) {
        (Some(d), _, _) => Some(Period::day(d)),
        (None, Some(f), Some(t)) if f <= t => Some(Period { from: f, to: t }),
        (None, Some(f), Some(t)) => anyhow::bail!("--from {f} is after --to {t}"),
        _ if !statements.is_empty() => {
            anyhow::bail!("statements need a period: give --day YYYY-MM-DD or --from/--to")
        }
        _ => None,
    };
    let db = Db::connect(&a.db, &ConnectOptions::read_only()).await?;
    let opts = RunOptions {
        period,
        statements,
        cross_day_window: chrono::Duration::minutes(a.window_minutes),
        stuck_after: chrono::Duration::minutes(a.stuck_minutes),
        lock_ttl: chrono::Duration::seconds(a.lock_ttl_seconds),
        as_of: db.now(),
        fees,
        balances: a.balances.clone(),
    };
    let cancel = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    {
        let cancel = std::sync::Arc::clone(&cancel);
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                cancel.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        });
    }
    let tty = std::io::stderr().is_terminal();
    // One line, rewritten in place: the stage, the file or table, how far
    // (bytes of a statement, rows of a table) and the percent when the size
    // is known; at most every 100 ms.
    let mut shown = std::time::Instant::now();
    let mut last_stage = None;
    let mut progress = |p: &payrecon::recon::run::Progress| {
        if !tty || (last_stage == Some(p.stage) && shown.elapsed().as_millis() < 100) {
            return;
        }
        shown = std::time::Instant::now();
        last_stage = Some(p.stage);
        eprint!("\r\x1b[2K{}", cli_progress_text(p));
    };
    let ws = open_workspace(workspace).await?;
    let params = serde_json::json!({
        "statements": a.statements.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        "formats": a.formats,
        "window_minutes": a.window_minutes,
        "stuck_minutes": a.stuck_minutes,
        "lock_ttl_seconds": a.lock_ttl_seconds,
        "fail_on": a.fail_on.as_str(),
        "fee_rates": a.fee_rates,
        "balances": a.balances.as_ref().map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone()).display().to_string()),
        "as_of": opts.as_of.to_string(),
        "out": a.out.display().to_string(),
    });
    let recorded = payrecon::ops::reconcile_and_record(
        &db,
        &ws,
        &opts,
        params,
        &payrecon::ops::Outputs::Folder(a.out.clone()),
        a.bom,
        &cancel,
        &mut progress,
    )
    .await;
    if tty {
        eprint!("\r\x1b[2K");
    }
    let payrecon::ops::Recorded {
        run_id,
        output: out,
        ..
    } = recorded.context("the run could not be recorded")?;
    if out.status != RunStatus::Ok {
        anyhow::bail!(
            "reconciliation {}: {} (recorded in {})",
            if out.status == RunStatus::Cancelled {
                "cancelled"
            } else {
                "failed"
            },
            out.error.as_deref().unwrap_or("unknown error"),
            a.out.join("summary.json").display()
        );
    }
    println!("reconciled {} in {} ms", out.database, out.duration_ms);
    for s in &out.skipped {
        println!("  skipped {}: {}", s.kinds.join(", "), s.reason_en);
    }
    for f in &out.files {
        let what = f.layout.as_deref().unwrap_or(f.format);
        let encoding = if f.encoding.is_empty() || what.contains(f.encoding.as_str()) {
            String::new()
        } else {
            format!(", {}", f.encoding)
        };
        let role = match (f.role, &f.business_period) {
            (FileRole::Reconciled, Some((a, b))) if a == b => {
                format!("reconciled, the bill of {a}")
            }
            (FileRole::Reconciled, Some((a, b))) => format!("reconciled, the bill of {a} to {b}"),
            (FileRole::Reconciled, None) => "reconciled".to_owned(),
            (FileRole::Neighbour, _) => {
                "a neighbouring day's bill: used only to clear items at the day boundary".to_owned()
            }
            (FileRole::ReadOnly, _) => {
                "the merchant account's movements: footer-checked and used for the settlement check"
                    .to_owned()
            }
            (FileRole::Refused, _) => format!(
                "NOT reconciled: {}",
                f.refused.as_deref().unwrap_or("refused")
            ),
        };
        println!(
            "  {} ({what}{encoding}): {} rows, {} bad rows — {role}",
            f.path,
            f.entries,
            f.row_errors.len(),
        );
        for (line, why) in f.row_errors.iter().take(10) {
            println!("    line {line}: {why}");
        }
    }
    if out.cleared_by_neighbour > 0 {
        println!(
            "  {} flows of the period are on a neighbouring day's bill (accounted for there)",
            out.cleared_by_neighbour
        );
    }
    if let Some(u) = out.unverified.as_ref().filter(|u| u.flows > 0) {
        println!(
            "  UNVERIFIED: {} recharge flows totalling {} were not checked against any statement \
             (not reported missing) / {} 笔充值流水共 {} 未核对",
            u.flows, u.amount, u.flows, u.amount
        );
    }
    print_money_checks(&out);
    for (k, n) in &out.by_kind {
        let amt = out.amount_by_kind.get(k).map(String::as_str).unwrap_or("");
        println!("  {k:<26} {n:>6}  {amt}");
    }
    println!("findings: {}", a.out.join("findings.csv").display());
    println!("workspace run {run_id}: {}", ws.path().display());
    Ok(if out.worst().is_some_and(|w| w >= a.fail_on) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The fee, settlement and custody checks' totals, in words.
fn print_money_checks(out: &payrecon::recon::RunOutput) {
    for f in &out.fees {
        println!(
            "  fees of {} at {}: expected {}, charged {} (difference {}) over {} payments and {} refunds; {} wrong",
            f.file,
            f.rate,
            f.expected,
            f.charged,
            f.difference,
            f.payments_checked,
            f.refunds_checked,
            f.mismatches
        );
    }
    if let Some(s) = &out.settlement {
        if let Some((why, _)) = &s.not_checked {
            println!("  settlement NOT checked: {why}");
        } else {
            println!(
                "  settlement: {} of {} orders settled; expected {}, arrived {}; {} missing, {} amounts differ, {} unexplained, {} pending at the day boundary",
                s.settled,
                s.orders,
                s.expected,
                s.arrived,
                s.missing,
                s.mismatched,
                s.unexplained,
                s.pending
            );
        }
        for f in &s.files {
            let balance = match (&f.opening, &f.closing, f.balance_ok) {
                (Some(o), Some(c), Some(true)) => {
                    format!("balance {o} → {c}, equal to the day's movements")
                }
                (Some(o), Some(c), _) => {
                    format!("balance {o} → {c}, NOT equal to the day's movements")
                }
                _ => "no balance column".to_owned(),
            };
            println!(
                "    {}: {} movements, in {}, out {}; {balance}",
                f.file, f.movements, f.income, f.expense
            );
        }
    }
    if let Some(c) = &out.custody {
        if let Some(why) = &c.refused {
            println!("  custodian balances NOT compared: {why}");
        } else {
            println!(
                "  custodian balances ({}): {} accounts compared, {} agree, {} differ; {} accounts the ledger does not know (total {}); {} bound users not in the file",
                c.file,
                c.compared,
                c.agree,
                c.mismatched,
                c.unknown,
                c.unknown_amount,
                c.ledger_only
            );
        }
    }
}

/// A reconcile progress line for the terminal: "reading the statement 1/2
/// hfb.csv: 3145728 / 12582912 bytes (25%)".
fn cli_progress_text(p: &payrecon::recon::run::Progress) -> String {
    use payrecon::recon::run::Unit;
    let mut t = p.stage.name_en().to_owned();
    if let Some((i, n)) = p.file {
        t.push_str(&format!(" {i}/{n}"));
    }
    if !p.item.is_empty() {
        t.push_str(&format!(" {}", p.item));
    }
    let unit = match p.unit {
        Unit::Bytes => "bytes",
        Unit::Rows => "rows",
    };
    match p.total {
        Some(total) if p.total_estimated => t.push_str(&format!(": {} of ~{total} {unit}", p.done)),
        Some(total) => t.push_str(&format!(": {} / {total} {unit}", p.done)),
        None if p.done > 0 => t.push_str(&format!(": {} {unit}", p.done)),
        None => {}
    }
    if let Some(pc) = p.percent() {
        t.push_str(&format!(" ({pc}%)"));
    }
    t
}

fn parse_time(flag: &str, v: &str) -> anyhow::Result<chrono::NaiveDateTime> {
    payrecon::views::parse_time(v).ok_or_else(|| {
        anyhow::anyhow!("{flag} '{v}' is not a time: use YYYY-MM-DD or \"YYYY-MM-DD HH:MM:SS\"")
    })
}

async fn cmd_findings(c: FindingsCmd, workspace: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    use payrecon::recon::Kind;
    use payrecon::workspace::{FindingFilter, current_operator};
    let ws = open_workspace(workspace).await?;
    match c {
        FindingsCmd::List {
            status,
            kind,
            min_age_days,
            limit,
        } => {
            let kinds = kind
                .iter()
                .map(|k| {
                    Kind::parse(k)
                        .ok_or_else(|| anyhow::anyhow!("--kind {k} is not a finding kind"))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let rows = ws
                .list_findings(&FindingFilter {
                    kinds,
                    statuses: status,
                    min_age_days,
                    limit: Some(limit),
                    ..FindingFilter::default()
                })
                .await?;
            println!(
                "{:>6}  {:<9} {:<24} {:<8} {:<26} {:>12}  {:>5}  database",
                "id", "status", "kind", "severity", "key", "difference", "age"
            );
            for r in rows {
                println!(
                    "{:>6}  {:<9} {:<24} {:<8} {:<26} {:>12}  {:>4}d  {}{}",
                    r.id,
                    r.status.as_str(),
                    r.kind.as_str(),
                    r.severity.as_str(),
                    r.key,
                    r.difference.map(money::format_amount).unwrap_or_default(),
                    r.age_days,
                    r.database,
                    if r.is_absent() {
                        "  (not seen in the latest run)"
                    } else {
                        ""
                    }
                );
            }
        }
        FindingsCmd::Show { id } => {
            let r = ws.get_finding(id).await?;
            println!(
                "finding {} · {} · {} · {} · {}",
                r.id,
                r.kind.as_str(),
                r.severity.as_str(),
                r.key,
                r.status.as_str()
            );
            println!("  {}\n  {}", r.detail_zh, r.detail_en);
            println!(
                "  first seen {} (run {}), last seen {} (run {}), {} runs, age {} days",
                r.first_seen_at,
                r.first_seen_run,
                r.last_seen_at,
                r.last_seen_run,
                r.times_seen,
                r.age_days
            );
            for e in ws.history(id).await? {
                println!(
                    "  {} {:<12} {:<11} → {:<12} {} {}",
                    e.at,
                    e.action,
                    e.from.map(|s| s.as_str()).unwrap_or("-"),
                    e.to.as_str(),
                    e.operator,
                    e.note
                );
            }
        }
        FindingsCmd::Set { id, status, note } => {
            ws.set_status(id, status, &note, &current_operator())
                .await?;
            println!("finding {id} is now {}", status.as_str());
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn cmd_audit(c: AuditCmd, workspace: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let ws = open_workspace(workspace).await?;
    match c {
        AuditCmd::Verify => {
            let r = ws.verify_audit().await?;
            if r.ok {
                println!(
                    "audit log intact: {} entries, head {}",
                    r.entries, r.head_hash
                );
                Ok(ExitCode::SUCCESS)
            } else {
                println!("audit log BROKEN: {}", r.problem.unwrap_or_default());
                Ok(ExitCode::from(1))
            }
        }
        AuditCmd::Show { last } => {
            let total = ws.verify_audit().await?.entries;
            for e in ws
                .audit_entries(total.saturating_sub(u64::from(last)), last)
                .await?
            {
                println!(
                    "{:>5} {} {:<10} {:<10} {}",
                    e.seq, e.at, e.operator, e.action, e.params
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The format of `export`: `--format`, else the extension of `--out`; a
/// flag that contradicts a `.csv` / `.xlsx` name is refused.
fn export_format(a: &ExportArgs) -> anyhow::Result<payrecon::export::ExportFormat> {
    use payrecon::export::ExportFormat;
    let by_name = ExportFormat::from_path(&a.out);
    let named = a
        .out
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv") || e.eq_ignore_ascii_case("xlsx"));
    match a.format {
        None => Ok(by_name),
        Some(f) if named && f != by_name => anyhow::bail!(
            "--format {} contradicts --out {}: give the file the .{} extension, or drop --format",
            f.extension(),
            a.out.display(),
            f.extension()
        ),
        Some(f) => Ok(f),
    }
}

async fn cmd_export(a: ExportArgs, workspace: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    use payrecon::views::{self, Filter};
    let format = export_format(&a)?;
    let money = |flag: &str, v: &Option<String>| -> anyhow::Result<Option<rust_decimal::Decimal>> {
        v.as_deref()
            .map(|s| money::parse_amount(s).map_err(|e| anyhow::anyhow!("{flag}: {e}")))
            .transpose()
    };
    let filter = Filter {
        key: a.key.clone(),
        user_id: a.user,
        trans_type: a.trans_type,
        status: a.status.clone(),
        from: a
            .from
            .as_deref()
            .map(|v| parse_time("--from", v))
            .transpose()?,
        to: a.to.as_deref().map(|v| parse_time("--to", v)).transpose()?,
        min_amount: money("--min-amount", &a.min_amount)?,
        max_amount: money("--max-amount", &a.max_amount)?,
        mismatched_only: a.mismatched,
    };
    let view = match a.view {
        ExportView::Flows => views::View::Flows,
        ExportView::Orders => views::View::Orders,
        ExportView::Notify => views::View::Notify,
        ExportView::Idempotency => views::View::Idempotency,
        ExportView::Accounts => views::View::Accounts,
        ExportView::Findings => return export_findings(&a, workspace).await,
    };
    let db = Db::connect(&a.db, &ConnectOptions::read_only()).await?;
    let ws = open_workspace(workspace).await?;
    let started = std::time::Instant::now();
    let rows =
        payrecon::ops::export_view(&db, &ws, view, &filter, &a.out, a.bom, format, None).await?;
    println!(
        "exported {rows} rows of {} to {} in {} ms",
        view.table(),
        a.out.display(),
        started.elapsed().as_millis()
    );
    Ok(ExitCode::SUCCESS)
}

async fn cmd_case(a: CaseArgs, workspace: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    use payrecon::case::{self, Query};
    use payrecon::gui::Lang;
    let lang = match &a.lang {
        Some(w) => Lang::parse(w)
            .ok_or_else(|| anyhow::anyhow!("--lang {w} is not a language: zh or en"))?,
        None => Lang::from_env(),
    };
    let q = match (&a.bill, a.user, &a.mobile, &a.name, &a.query) {
        (Some(b), ..) => Some(Query::Bill(b.clone())),
        (_, Some(u), ..) => Some(Query::User(u)),
        (_, _, Some(m), ..) => Some(Query::Mobile(m.clone())),
        (_, _, _, Some(n), _) => Some(Query::Name(n.clone())),
        (_, _, _, _, Some(_)) => None,
        _ => anyhow::bail!("give --bill, --user, --mobile, --name or --query"),
    };
    let db = Db::connect(&a.db, &ConnectOptions::read_only()).await?;
    let mut c = match (&q, &a.query) {
        (Some(q), _) => case::lookup(&db, q).await?,
        (None, Some(text)) => case::search(&db, text).await?,
        (None, None) => anyhow::bail!("give --bill, --user, --mobile, --name or --query"),
    };
    // The findings open on this bill or user, from the workspace when there
    // is one (a case never creates a workspace).
    let ws_path = workspace.unwrap_or_else(payrecon::workspace::Workspace::default_path);
    if ws_path.exists() {
        let ws = payrecon::workspace::Workspace::open(&ws_path).await?;
        let f = ws
            .case_findings(&db.redacted_url(), &c.bills(), &c.user_ids())
            .await?;
        c.attach_findings(&f);
        // The custodian's balance beside ours, from the latest run that had a balances file.
        if let Some(src) = case::latest_balances(&ws, &db.redacted_url()).await? {
            c.attach_custodian(&db, &src).await;
        }
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&c)?);
    } else {
        print!("{}", case::render(&c));
    }
    if let Some(path) = &a.report {
        case::save_report_html(path, &c, lang, db.now())
            .map_err(|e| anyhow::anyhow!("cannot write the report {}: {e}", path.display()))?;
        eprintln!("report: {}", path.display());
    }
    Ok(if c.found() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `export --view findings`: the workspace's findings queue for this
/// database, with the queue's filters (kind, severity, status, age, one bill
/// or user), order and grouping.
async fn export_findings(a: &ExportArgs, workspace: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    use payrecon::recon::Kind;
    use payrecon::workspace::{FindingFilter, GroupBy, GroupKey, QueueOrder, Status};
    let ws = open_workspace(workspace).await?;
    let database = payrecon::db::DbUrl::parse(&a.db)?.redacted();
    // --status open,acknowledged (or repeated words); "all" or nothing: every status.
    let statuses = match a.status.as_deref().map(str::trim) {
        None | Some("all") | Some("") => Vec::new(),
        Some(words) => words
            .split(',')
            .map(|w| {
                Status::parse(w.trim()).ok_or_else(|| {
                    anyhow::anyhow!(
                        "--status {w} is not a finding status: open, acknowledged, resolved, accepted or all"
                    )
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?,
    };
    let kinds = a
        .kind
        .iter()
        .map(|k| Kind::parse(k).ok_or_else(|| anyhow::anyhow!("--kind {k} is not a finding kind")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let filter = FindingFilter {
        database: Some(database.clone()),
        kinds,
        severities: a.severity.clone(),
        statuses,
        min_age_days: a.min_age_days,
        user_id: a.user,
        // --key: the findings of one bill (or of one key that has no bill).
        group: a.key.clone().map(|key| GroupKey {
            by: GroupBy::Bill,
            key,
        }),
        ..FindingFilter::default()
    };
    let order = QueueOrder {
        by: a.sort,
        reverse: a.reverse,
    };
    let format = export_format(a)?;
    let operator = ws.operator_or_env().await?;
    let done = payrecon::export::findings::write_queue_as(
        &ws, &filter, order, a.group_by, &a.out, a.bom, format, &operator,
    )
    .await?;
    println!(
        "exported {} findings of {database} to {} (amount at risk {}, file-level totals apart {})",
        done.rows,
        a.out.display(),
        payrecon::money::format_amount(done.at_risk.total),
        payrecon::money::format_amount(done.at_risk.file_level),
    );
    Ok(ExitCode::SUCCESS)
}
