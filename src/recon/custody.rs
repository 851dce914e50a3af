//! Custodian balances against the ledger (SPEC §4 `custody_*`).
//!
//! srb's users' money sits with a custodian (hfb is srb's 资金存管), which
//! knows each user by the code srb keeps in `user_info.bind_code`. The
//! custodian's balance file ([`crate::statement::balances`]) is compared,
//! user by user, with `user_account.amount` / `freeze_amount`:
//!
//! * the balances differ → `custody_balance_mismatch` (critical);
//! * the custodian holds an account for a code no ledger user has →
//!   `custody_unknown_account` (high);
//! * a bound ledger user the file does not list → `custody_balance_mismatch`
//!   when the ledger holds money for it, otherwise only counted.
//!
//! The file is read first, into a hash map keyed by user code; the ledger
//! is then streamed once and each bound user looked up. The map holds the
//! file side because the file must be read whole before anything can be
//! said: a repeated code or an unreadable row disqualifies a code wherever
//! it is in the file, and an unusable file must be refused before the
//! ledger is touched. The ledger side, streamed, never needs to be held,
//! and the accounts left in the map at the end are the unknown ones.

use super::finding::{Finding, Kind};
use crate::db::schema::SchemaReport;
use crate::db::{Arg, Backend, Db, DbError, sqlite_read as sr};
use crate::money::format_amount;
use crate::statement::StatementError;
use crate::statement::balances::{CodeMap, Sink, read_with};
use rust_decimal::Decimal;
use serde::Serialize;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

/// What the custody check found, for `summary.json` and the console.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CustodySummary {
    /// The balance file.
    pub file: String,
    /// Its encoding as found ("" when it could not be read).
    pub encoding: String,
    /// The header name of its user-code column, as written.
    pub code_column: String,
    /// Good rows of the file.
    pub rows: u64,
    /// Bad rows: (line, reason); their user codes are not compared.
    pub row_errors: Vec<(u64, String)>,
    /// Custodian accounts matched to a ledger user by bind code.
    pub compared: u64,
    /// ... of which agree.
    pub agree: u64,
    /// `custody_balance_mismatch` findings.
    pub mismatched: u64,
    /// `custody_unknown_account` findings.
    pub unknown: u64,
    /// Their balances' total (amount + freeze), exact decimal text.
    pub unknown_amount: String,
    /// Bound ledger users the file does not list.
    pub ledger_only: u64,
    /// ... of which with a non-zero balance (these are `custody_balance_mismatch` findings too).
    pub ledger_only_nonzero: u64,
    /// Σ amount + freeze over the file's rows that were used (every good
    /// row but those of a code that is repeated or also on a bad row).
    pub custodian_total: String,
    /// Σ amount + freeze over the compared ledger users.
    pub ledger_total: String,
    /// Why the file or the ledger could not be used, in one sentence.
    pub refused: Option<String>,
    /// The same in Chinese.
    pub refused_zh: Option<String>,
}

/// The ledger's balance and the custodian's for one user (the case view).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CustodyPair {
    /// The user's code at the custodian (`user_info.bind_code`, trimmed).
    pub user_code: String,
    /// `user_account.amount`; `None` when the user has no account row.
    pub ledger_amount: Option<Decimal>,
    /// `user_account.freeze_amount`; `None` when the user has no account row.
    pub ledger_freeze: Option<Decimal>,
    /// The custodian's available balance.
    pub custodian_amount: Decimal,
    /// The custodian's frozen amount, when the file has the column.
    pub custodian_freeze: Option<Decimal>,
}

/// One custodian account of the file, waiting for its ledger user.
struct Account {
    line: u64,
    amount: Decimal,
    freeze: Option<Decimal>,
    matched: bool,
}

/// A user code of the file: its account, or `None` when the code is on a
/// bad row or repeated (then it is not compared at all).
struct Slot {
    line: u64,
    account: Option<Account>,
}

/// The file's codes, keyed for the ledger's lookups.
#[derive(Default)]
struct Accounts(CodeMap<Slot>);

impl Sink for Accounts {
    fn row(
        &mut self,
        code: &str,
        line: u64,
        balance: Option<(Decimal, Option<Decimal>)>,
    ) -> Option<u64> {
        if let Some(slot) = self.0.get_mut(code) {
            slot.account = None;
            return Some(slot.line);
        }
        let account = balance.map(|(amount, freeze)| Account {
            line,
            amount,
            freeze,
            matched: false,
        });
        self.0.insert(code.into(), Slot { line, account });
        None
    }
}

/// One bound ledger user.
struct LedgerUser {
    id: i64,
    code: String,
    /// (amount, freeze); `None` without a `user_account` row.
    balance: Option<(Decimal, Decimal)>,
}

/// The columns the check reads; the first one missing, named.
fn missing_column(schema: &SchemaReport) -> Option<&'static str> {
    [
        ("user_info", "id", "user_info.id"),
        ("user_info", "bind_code", "user_info.bind_code"),
        ("user_account", "user_id", "user_account.user_id"),
        ("user_account", "amount", "user_account.amount"),
        (
            "user_account",
            "freeze_amount",
            "user_account.freeze_amount",
        ),
    ]
    .into_iter()
    .find(|(t, c, _)| !schema.has_column(t, c))
    .map(|(_, _, name)| name)
}

/// Compares the custodian's balance file at `path` with the ledger's
/// `user_account` through `user_info.bind_code` (see the module).
///
/// An unusable file (no user-code or `amount` column, empty, unreadable)
/// gives `Ok` with one `statement_refused` finding keyed by the file's name
/// and `summary.refused` set; a ledger without the columns needed gives
/// `Ok` with no finding and `summary.refused` saying why. When `cancel` is
/// set the check stops early and returns what it has: the caller, which
/// set the flag, discards it. `Err` is a database failure.
pub async fn check_custody(
    db: &Db,
    schema: &SchemaReport,
    path: &Path,
    cancel: &AtomicBool,
) -> Result<(Vec<Finding>, CustodySummary), DbError> {
    let mut summary = CustodySummary {
        file: path.display().to_string(),
        unknown_amount: format_amount(Decimal::ZERO),
        custodian_total: format_amount(Decimal::ZERO),
        ledger_total: format_amount(Decimal::ZERO),
        ..CustodySummary::default()
    };
    if let Some(col) = missing_column(schema) {
        summary.refused = Some(format!(
            "the ledger has no column {col}, so the custodian's balances cannot be matched to our users; nothing was compared"
        ));
        summary.refused_zh = Some(
            "我方账库缺少用户绑定协议号或账户余额所需的表或列，无法把存管余额对应到我方用户，未做任何核对"
                .to_owned(),
        );
        return Ok((Vec::new(), summary));
    }

    // The file, whole, into a map keyed by user code.
    let mut accounts = Accounts::default();
    let read = read_with(path, &mut accounts, &mut |_| {});
    let report = match read {
        Ok(r) => r,
        Err(e) => {
            let name = file_name(path);
            let (zh, en) = (refused_zh(&e), e.to_string());
            let finding = Finding::new(Kind::StatementRefused, name.as_str()).explain(
                format!("存管余额文件 {name} 未采用（{zh}）：没有核对任何用户的存管余额"),
                format!(
                    "custodian balances file {name} was not used ({en}): no user's custodian balance was compared"
                ),
            );
            summary.refused = Some(en);
            summary.refused_zh = Some(zh);
            return Ok((vec![finding], summary));
        }
    };
    summary.encoding = report.encoding.to_string();
    summary.code_column = report.code_column.clone();
    summary.rows = report.rows;
    summary.row_errors = report
        .errors
        .iter()
        .map(|e| (e.line, e.reason.clone()))
        .collect();
    let custodian_total: Decimal = accounts
        .0
        .values()
        .filter_map(|s| s.account.as_ref())
        .map(|a| a.amount + a.freeze.unwrap_or_default())
        .sum();
    summary.custodian_total = format_amount(custodian_total);
    if cancel.load(Ordering::Relaxed) {
        return Ok((Vec::new(), summary));
    }

    // The ledger, streamed; each bound user looked up in the map.
    let mut cmp = Comparison {
        accounts,
        has_freeze: report.has_freeze,
        findings: Vec::new(),
        summary,
        ledger_total: Decimal::ZERO,
    };
    let sql = ledger_sql(schema, "");
    stream_ledger(db, &sql, &[], cancel, &mut |u| cmp.user(u)).await?;
    let Comparison {
        accounts,
        mut findings,
        mut summary,
        ledger_total,
        has_freeze,
        ..
    } = cmp;
    summary.ledger_total = format_amount(ledger_total);

    // What is left unmatched in the map: accounts our ledger does not know.
    let mut unknown: Vec<(&str, &Account)> = accounts
        .0
        .iter()
        .filter_map(|(c, s)| Some((&**c, s.account.as_ref()?)))
        .filter(|(_, a)| !a.matched)
        .collect();
    unknown.sort_unstable_by_key(|(_, a)| a.line);
    let mut unknown_amount = Decimal::ZERO;
    let name = file_name(path);
    for (code, a) in unknown {
        let total = a.amount + a.freeze.unwrap_or_default();
        unknown_amount += total;
        summary.unknown += 1;
        findings.push(unknown_finding(code, a, total, has_freeze, &name));
    }
    summary.unknown_amount = format_amount(unknown_amount);
    Ok((findings, summary))
}

/// The file's name, for keys and explanations.
fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// The comparison under way while the ledger streams by.
struct Comparison {
    accounts: Accounts,
    has_freeze: bool,
    findings: Vec<Finding>,
    summary: CustodySummary,
    ledger_total: Decimal,
}

impl Comparison {
    fn user(&mut self, u: LedgerUser) {
        let code = u.code.trim();
        if code.is_empty() {
            return;
        }
        let (la, lf) = u.balance.unwrap_or_default();
        let Some(slot) = self.accounts.0.get_mut(code) else {
            self.summary.ledger_only += 1;
            if !la.is_zero() || !lf.is_zero() {
                self.summary.ledger_only_nonzero += 1;
                self.summary.mismatched += 1;
                self.findings.push(mismatch(&u, code, None, false));
            }
            return;
        };
        // A code the file has only on a bad or repeated row: not compared.
        let Some(acct) = &mut slot.account else {
            return;
        };
        acct.matched = true;
        self.summary.compared += 1;
        self.ledger_total += la + lf;
        let freeze_differs = self.has_freeze && acct.freeze.is_some_and(|f| f != lf);
        if acct.amount != la || freeze_differs {
            self.summary.mismatched += 1;
            let theirs = (acct.amount, acct.freeze);
            self.findings
                .push(mismatch(&u, code, Some(theirs), self.has_freeze));
        } else {
            self.summary.agree += 1;
        }
    }
}

/// Bound ledger users with their balances, in id order; `filter` is
/// appended to the WHERE clause (its arguments are the caller's).
fn ledger_sql(schema: &SchemaReport, filter: &str) -> String {
    // A deleted account holds nothing, as the balance check reads it.
    let live = if schema.has_column("user_account", "is_deleted") {
        " AND ua.is_deleted = 0"
    } else {
        ""
    };
    format!(
        "SELECT ui.id, ui.bind_code, ua.amount, ua.freeze_amount \
         FROM user_info ui LEFT JOIN user_account ua ON ua.user_id = ui.id{live} \
         WHERE ui.bind_code IS NOT NULL AND ui.bind_code <> ''{filter} ORDER BY ui.id"
    )
}

/// How often (in ledger rows) the cancel flag is looked at.
const CHECK_EVERY: u64 = 65_536;

/// Streams the ledger users of `sql` into `each`, never holding the result
/// set: SQLite through the synchronous reader in batches, the servers
/// through the driver's row stream. Stops early when `cancel` is set.
async fn stream_ledger(
    db: &Db,
    sql: &str,
    args: &[Arg],
    cancel: &AtomicBool,
    each: &mut (dyn FnMut(LedgerUser) + Send),
) -> Result<(), DbError> {
    if db.backend() == Backend::Sqlite
        && let Some(mut rx) = db.sqlite_batches(sql.to_owned(), args.to_vec(), 8192, sqlite_user)
    {
        while let Some(batch) = rx.recv().await {
            for u in batch? {
                each(u);
            }
            if cancel.load(Ordering::Relaxed) {
                // Dropping the receiver stops the reader.
                return Ok(());
            }
        }
        return Ok(());
    }
    let mut n = 0u64;
    db.for_each_row(sql, args, |row| -> Result<bool, DbError> {
        let d = |e| db.decode("user_account", e);
        let id = row.i64(0).map_err(d)?;
        let code = row.text(1).map_err(d)?;
        let amount = row.opt_money(2).map_err(d)?;
        let freeze = row.opt_money(3).map_err(d)?;
        each(LedgerUser {
            id,
            code,
            balance: amount.map(|a| (a, freeze.unwrap_or_default())),
        });
        n += 1;
        Ok(!(n.is_multiple_of(CHECK_EVERY) && cancel.load(Ordering::Relaxed)))
    })
    .await
}

/// A ledger user from the SQLite reader.
fn sqlite_user(row: &rusqlite::Row<'_>) -> Result<LedgerUser, DbError> {
    let d = |e| DbError::Decode {
        table: "user_account".into(),
        source: e,
    };
    let id = sr::opt_i64(sr::value(row, 0, "id").map_err(d)?, "id")
        .map_err(d)?
        .unwrap_or_default();
    let code = sr::opt_text(sr::value(row, 1, "bind_code").map_err(d)?, "bind_code")
        .map_err(d)?
        .map(|c| c.into_owned())
        .unwrap_or_default();
    let cents = |i: usize, col: &str| -> Result<Option<Decimal>, DbError> {
        Ok(sr::opt_cents(sr::value(row, i, col).map_err(d)?, col)
            .map_err(d)?
            .map(|c| Decimal::new(c, crate::money::SCALE)))
    };
    let amount = cents(2, "amount")?;
    let freeze = cents(3, "freeze_amount")?;
    Ok(LedgerUser {
        id,
        code,
        balance: amount.map(|a| (a, freeze.unwrap_or_default())),
    })
}

/// "our ledger holds 100.00 more than the custodian (hfb)" for a difference
/// ours − theirs of `diff` in `what` ("" for the available balance,
/// " frozen" for the frozen amount), and the Chinese.
fn direction(diff: Decimal, frozen: bool) -> (String, String) {
    let (what_en, what_zh) = if frozen {
        (" frozen", "冻结金额")
    } else {
        ("", "")
    };
    let d = format_amount(diff.abs());
    if diff > Decimal::ZERO {
        (
            format!("our ledger holds {d} more{what_en} than the custodian (hfb)"),
            format!("我方账上{what_zh}比存管方（汇付宝）多 {d}"),
        )
    } else {
        (
            format!("the custodian (hfb) holds {d} more{what_en} than our ledger"),
            format!("存管方（汇付宝）{what_zh}比我方账上多 {d}"),
        )
    }
}

/// A `custody_balance_mismatch` for ledger user `u` (code `code`) against
/// the custodian's (amount, freeze), or against nothing when the file does
/// not list the code (its balance then counts as 0.00).
fn mismatch(
    u: &LedgerUser,
    code: &str,
    theirs: Option<(Decimal, Option<Decimal>)>,
    has_freeze: bool,
) -> Finding {
    let uid = u.id;
    let (la, lf) = u.balance.unwrap_or_default();
    let (ca, cf) = theirs.unwrap_or((Decimal::ZERO, None));
    // The available amount first; the frozen amount when only it differs.
    let frozen = la == ca;
    let (ours, other) = if frozen {
        (lf, cf.unwrap_or_default())
    } else {
        (la, ca)
    };
    let (dir_en, dir_zh) = direction(ours - other, frozen);
    let (ledger_en, ledger_zh) = match u.balance {
        Some(_) => (
            format!(
                "our ledger: balance {}, frozen {}",
                format_amount(la),
                format_amount(lf)
            ),
            format!(
                "我方账上可用余额 {}，冻结 {}",
                format_amount(la),
                format_amount(lf)
            ),
        ),
        None => (
            "our ledger has no account row for the user (counted as 0.00)".to_owned(),
            "我方没有该用户的账户记录（按 0.00 计）".to_owned(),
        ),
    };
    let (theirs_en, theirs_zh) = match theirs {
        Some(_) => match cf.filter(|_| has_freeze) {
            Some(f) => (
                format!(
                    "the custodian (hfb): balance {}, frozen {}",
                    format_amount(ca),
                    format_amount(f)
                ),
                format!(
                    "存管方（汇付宝）可用余额 {}，冻结 {}",
                    format_amount(ca),
                    format_amount(f)
                ),
            ),
            None => (
                format!(
                    "the custodian (hfb): balance {} (the file gives no frozen amount)",
                    format_amount(ca)
                ),
                format!(
                    "存管方（汇付宝）可用余额 {}（文件没有冻结金额）",
                    format_amount(ca)
                ),
            ),
        },
        None => (
            format!("the custodian's file lists no account for bind code {code}"),
            "存管方（汇付宝）的余额文件里没有这个绑定协议号的账户".to_owned(),
        ),
    };
    Finding::new(Kind::CustodyBalanceMismatch, format!("user:{uid}"))
        .user(Some(uid))
        .amounts(Some(ours), Some(other))
        .explain(
            format!("用户 {uid}（绑定协议号 {code}）：{ledger_zh}；{theirs_zh}；{dir_zh}"),
            format!("user {uid} (bind code {code}): {ledger_en}; {theirs_en}; {dir_en} for user {uid}, bind code {code}"),
        )
}

/// A `custody_unknown_account` for the custodian's account `code`.
fn unknown_finding(
    code: &str,
    a: &Account,
    total: Decimal,
    has_freeze: bool,
    file: &str,
) -> Finding {
    let (bal_en, bal_zh) = match a.freeze.filter(|_| has_freeze) {
        Some(f) => (
            format!(
                "balance {}, frozen {} (total {})",
                format_amount(a.amount),
                format_amount(f),
                format_amount(total)
            ),
            format!(
                "可用余额 {}，冻结 {}（合计 {}）",
                format_amount(a.amount),
                format_amount(f),
                format_amount(total)
            ),
        ),
        None => (
            format!(
                "balance {} (the file gives no frozen amount)",
                format_amount(a.amount)
            ),
            format!("可用余额 {}（文件没有冻结金额）", format_amount(a.amount)),
        ),
    };
    Finding::new(Kind::CustodyUnknownAccount, format!("custody:{code}"))
        .amounts(None, Some(total))
        .explain(
            format!(
                "存管方（汇付宝）有用户编码 {code} 的账户（{file} 第 {} 行），{bal_zh}，但我方没有任何用户绑定这个协议号：存管方比我方账上多出 {}，我方账上查不到它属于谁",
                a.line,
                format_amount(total)
            ),
            format!(
                "the custodian (hfb) holds an account for user code {code} ({file}, line {}), {bal_en}, but no user in our ledger has that bind code: the custodian holds {} our ledger cannot attribute to anyone",
                a.line,
                format_amount(total)
            ),
        )
}

/// Why a balance file could not be used, in Chinese (no English identifiers).
fn refused_zh(e: &StatementError) -> String {
    match e {
        StatementError::Io { source, .. } => format!("无法读取文件：{source}"),
        StatementError::Encoding { line, .. } => {
            format!("文件既不是 UTF-8 也不是 GBK 编码（第 {line} 行无法解码），文件可能已损坏")
        }
        StatementError::Header { line, .. } => format!(
            "第 {line} 行的表头缺少用户编码列或金额列：存管余额文件需要用户编码（或绑定协议号）、可用余额两列，冻结金额列可选"
        ),
        StatementError::GatewayReply { message, .. } => {
            format!("文件里是网关返回的错误信息而不是余额：{message}")
        }
        StatementError::Empty { .. } => "文件是空的：没有表头也没有明细".to_owned(),
        StatementError::Packed { .. } => {
            "这是压缩包或 Excel 工作簿，不是文本文件：请先解压（或另存为 CSV）再选择".to_owned()
        }
    }
}

/// The ledger's balance and the custodian's for user `user_id` (the case
/// view): `None` when the user has no bind code or the file does not list
/// it usably (absent, on a bad row, or repeated). The file is streamed and
/// only the user's row kept. A file that cannot be read at all is
/// [`DbError::State`] with the reader's sentence.
pub async fn custody_pair(
    db: &Db,
    path: &Path,
    user_id: i64,
) -> Result<Option<CustodyPair>, DbError> {
    let schema = crate::db::schema::discover(db).await?;
    if let Some(col) = missing_column(&schema) {
        return Err(DbError::Schema(format!(
            "the ledger has no column {col}, so no custodian balance can be matched to user {user_id}"
        )));
    }
    let sql = ledger_sql(&schema, " AND ui.id = ?");
    let mut user = None;
    stream_ledger(
        db,
        &sql,
        &[Arg::from(user_id)],
        &AtomicBool::new(false),
        &mut |u| user = Some(u),
    )
    .await?;
    let Some(user) = user else {
        return Ok(None);
    };
    let code = user.code.trim().to_owned();
    if code.is_empty() {
        return Ok(None);
    }
    let mut one = OneCode {
        code: &code,
        first: None,
        found: None,
    };
    if let Err(e) = read_with(path, &mut one, &mut |_| {}) {
        return Err(DbError::State(e.to_string()));
    }
    Ok(one.found.flatten().map(|(amount, freeze)| CustodyPair {
        user_code: code.clone(),
        ledger_amount: user.balance.map(|(a, _)| a),
        ledger_freeze: user.balance.map(|(_, f)| f),
        custodian_amount: amount,
        custodian_freeze: freeze,
    }))
}

/// [`custody_pair`]'s sink: keeps one code's row, or `None` when that code
/// is on a bad row or repeated.
struct OneCode<'a> {
    code: &'a str,
    first: Option<u64>,
    found: Option<Option<(Decimal, Option<Decimal>)>>,
}

impl Sink for OneCode<'_> {
    fn row(
        &mut self,
        code: &str,
        line: u64,
        balance: Option<(Decimal, Option<Decimal>)>,
    ) -> Option<u64> {
        if code != self.code {
            return None;
        }
        if let Some(first) = self.first {
            self.found = Some(None);
            return Some(first);
        }
        self.first = Some(line);
        self.found = Some(balance);
        None
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn user(id: i64, a: &str, f: &str) -> LedgerUser {
        LedgerUser {
            id,
            code: format!("C{id}"),
            balance: Some((d(a), d(f))),
        }
    }

    #[test]
    fn mismatch_names_the_field_and_the_direction() {
        let f = mismatch(
            &user(3, "100.00", "5.00"),
            "C3",
            Some((d("0.00"), Some(d("5.00")))),
            true,
        );
        assert_eq!(f.key, "user:3");
        assert_eq!(f.user_id, Some(3));
        assert_eq!(f.amount_internal, Some(d("100.00")));
        assert_eq!(f.amount_external, Some(d("0.00")));
        assert_eq!(f.difference, Some(d("100.00")));
        assert!(
            f.detail_en.contains(
                "our ledger holds 100.00 more than the custodian (hfb) for user 3, bind code C3"
            ),
            "{}",
            f.detail_en
        );
        assert!(f.detail_en.contains("frozen 5.00"), "{}", f.detail_en);
        assert!(
            f.detail_zh.contains("我方账上比存管方（汇付宝）多 100.00"),
            "{}",
            f.detail_zh
        );
        // Only the frozen amount differs: those are the amounts.
        let f = mismatch(
            &user(4, "1.00", "2.00"),
            "C4",
            Some((d("1.00"), Some(d("7.00")))),
            true,
        );
        assert_eq!(f.amount_internal, Some(d("2.00")));
        assert_eq!(f.amount_external, Some(d("7.00")));
        assert!(
            f.detail_en
                .contains("the custodian (hfb) holds 5.00 more frozen than our ledger"),
            "{}",
            f.detail_en
        );
        assert!(
            f.detail_zh
                .contains("存管方（汇付宝）冻结金额比我方账上多 5.00"),
            "{}",
            f.detail_zh
        );
        // Not in the file: the custodian's side is 0.00.
        let f = mismatch(&user(5, "0.00", "9.00"), "C5", None, true);
        assert_eq!(f.amount_internal, Some(d("9.00")));
        assert_eq!(f.amount_external, Some(d("0.00")));
        assert!(
            f.detail_en.contains("lists no account for bind code C5"),
            "{}",
            f.detail_en
        );
        assert!(!f.detail_zh.contains("bind"), "{}", f.detail_zh);
    }
}
