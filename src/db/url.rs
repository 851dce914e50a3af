//! Database URLs: which backend, where, and how to show them without the password.

use std::path::PathBuf;

/// The three supported backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Backend {
    /// SQLite file.
    Sqlite,
    /// PostgreSQL server.
    Postgres,
    /// MySQL or MariaDB server.
    MySql,
}

impl Backend {
    /// Human name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "SQLite",
            Self::Postgres => "PostgreSQL",
            Self::MySql => "MySQL/MariaDB",
        }
    }
}

/// A parsed database URL.
#[derive(Clone, PartialEq, Eq)]
pub enum DbUrl {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL URL (`postgres://…`).
    Postgres(String),
    /// A MySQL/MariaDB URL (`mysql://…`; `mariadb://` is accepted and rewritten).
    MySql(String),
}

impl std::fmt::Debug for DbUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the password, not even in debug output.
        f.write_str(&self.redacted())
    }
}

/// A URL payrecon cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "'{shown}' is not a usable database URL: {why} (expected sqlite://FILE, postgres://USER@HOST:PORT/DB or mysql://USER@HOST:PORT/DB)"
)]
pub struct BadUrl {
    /// The URL as given, password removed.
    pub shown: String,
    /// What is wrong with it.
    pub why: String,
}

impl DbUrl {
    /// Parses `sqlite:FILE`, `sqlite://FILE`, `sqlite:///ABS`, a bare `*.db`/`*.sqlite` path,
    /// `postgres://`, `postgresql://`, `mysql://` or `mariadb://` URLs.
    pub fn parse(text: &str) -> Result<Self, BadUrl> {
        let t = text.trim();
        let bad = |why: &str| BadUrl {
            shown: redact(t),
            why: why.to_owned(),
        };
        if t.is_empty() {
            return Err(bad("it is empty"));
        }
        if let Some(rest) = t.strip_prefix("sqlite:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            // Drop query options such as `?mode=rwc`: payrecon sets the mode itself.
            let path = path.split('?').next().unwrap_or_default();
            if path.is_empty() {
                return Err(bad("the SQLite file name is missing"));
            }
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        let lower = t.to_ascii_lowercase();
        for (prefix, pg) in [
            ("postgres://", true),
            ("postgresql://", true),
            ("mysql://", false),
            ("mariadb://", false),
        ] {
            if lower.starts_with(prefix) {
                let parsed = url::Url::parse(t).map_err(|e| bad(&e.to_string()))?;
                if parsed.host_str().is_none_or(str::is_empty) {
                    return Err(bad("the server host is missing"));
                }
                let db = parsed.path().trim_start_matches('/');
                if db.is_empty() {
                    return Err(bad("the database name is missing"));
                }
                return Ok(if pg {
                    Self::Postgres(t.to_owned())
                } else {
                    Self::MySql(format!("mysql://{}", &t[prefix.len()..]))
                });
            }
        }
        if !t.contains("://")
            && [".db", ".sqlite", ".sqlite3"]
                .iter()
                .any(|ext| lower.ends_with(ext))
        {
            return Ok(Self::Sqlite(PathBuf::from(t)));
        }
        Err(bad("unknown scheme"))
    }

    /// The backend this URL names.
    pub fn backend(&self) -> Backend {
        match self {
            Self::Sqlite(_) => Backend::Sqlite,
            Self::Postgres(_) => Backend::Postgres,
            Self::MySql(_) => Backend::MySql,
        }
    }

    /// The URL with any password replaced by `***`, safe for logs, errors and the window.
    pub fn redacted(&self) -> String {
        match self {
            Self::Sqlite(p) => format!("sqlite://{}", p.display()),
            Self::Postgres(u) | Self::MySql(u) => redact(u),
        }
    }

    /// `host:port` (or the file) for messages.
    pub fn target(&self) -> String {
        match self {
            Self::Sqlite(p) => p.display().to_string(),
            Self::Postgres(u) | Self::MySql(u) => match url::Url::parse(u) {
                Ok(p) => format!(
                    "{}:{}",
                    p.host_str().unwrap_or("?"),
                    p.port().map_or_else(
                        || if matches!(self, Self::Postgres(_)) {
                            "5432".into()
                        } else {
                            "3306".into()
                        },
                        |p| p.to_string()
                    )
                ),
                Err(_) => redact(u),
            },
        }
    }
}

/// Removes the password from anything that looks like a URL.
pub fn redact(text: &str) -> String {
    match url::Url::parse(text) {
        Ok(mut u) if u.password().is_some() => {
            // Infallible for URLs with a host, which is the only way to have a password.
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(_) => text.to_owned(),
        Err(_) => match (text.find("://"), text.rfind('@')) {
            // Unparseable but may still hold `user:pass@`: cut what lies between.
            (Some(s), Some(at)) if at > s => {
                let creds = &text[s + 3..at];
                match creds.find(':') {
                    Some(c) => format!("{}{}:***{}", &text[..s + 3], &creds[..c], &text[at..]),
                    None => text.to_owned(),
                }
            }
            _ => text.to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_backend() {
        assert_eq!(
            DbUrl::parse("sqlite:///tmp/a.db").unwrap(),
            DbUrl::Sqlite("/tmp/a.db".into())
        );
        assert_eq!(
            DbUrl::parse("sqlite:a.db").unwrap(),
            DbUrl::Sqlite("a.db".into())
        );
        assert_eq!(
            DbUrl::parse("demo.sqlite").unwrap(),
            DbUrl::Sqlite("demo.sqlite".into())
        );
        assert_eq!(
            DbUrl::parse("postgres://u@h/d").unwrap().backend(),
            Backend::Postgres
        );
        assert_eq!(
            DbUrl::parse("mariadb://u:p@h:3307/d").unwrap(),
            DbUrl::MySql("mysql://u:p@h:3307/d".into())
        );
    }

    #[test]
    fn rejects_malformed_with_reason_and_no_password() {
        let e = DbUrl::parse("postgres://bob:s3cret@/x").unwrap_err();
        assert!(!e.to_string().contains("s3cret"), "{e}");
        let e = DbUrl::parse("mysql://bob:s3cret@host").unwrap_err();
        assert!(e.to_string().contains("database name is missing"), "{e}");
        assert!(!e.to_string().contains("s3cret"));
        assert!(
            DbUrl::parse("oracle://x/y")
                .unwrap_err()
                .why
                .contains("unknown scheme")
        );
        assert!(DbUrl::parse("").is_err());
    }

    #[test]
    fn redacts_passwords() {
        let u = DbUrl::parse("postgres://bob:s3cret@db:5433/pay").unwrap();
        assert_eq!(u.redacted(), "postgres://bob:***@db:5433/pay");
        assert_eq!(u.target(), "db:5433");
        assert_eq!(format!("{u:?}"), "postgres://bob:***@db:5433/pay");
    }
}
