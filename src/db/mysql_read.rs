//! Reading MySQL/MariaDB result sets in the text protocol, for the bulk
//! scans of a run: a query without parameters is sent as `COM_QUERY`, the
//! server prints each value as text and streams the rows (nothing is
//! buffered on either side beyond the socket), and payrecon parses the
//! fields it needs straight from the bytes ([`super::text_field`]) instead of
//! a typed decode per cell. TIMESTAMP columns arrive in the session's time
//! zone (the business zone payrecon sets on connect), DATETIME as stored.

use super::DecodeError;
use super::text_field::{self, derr};
use chrono::NaiveDateTime;
use sqlx::mysql::MySqlRow;
use sqlx::{Row as _, ValueRef as _};

/// One row of a text-protocol result set.
pub struct TextRow<'r> {
    pub(super) src: Source<'r>,
}

/// Where a row's fields are.
pub(super) enum Source<'r> {
    /// payrecon's own wire reader: the row's payload, each field's span in
    /// it, and the columns' names.
    Wire {
        data: &'r [u8],
        spans: &'r [super::mysql_wire::Span],
        names: &'r [String],
    },
    /// A row sqlx read (connections the wire reader does not make).
    Sqlx(&'r MySqlRow),
}

impl<'r> TextRow<'r> {
    /// Field `i` as the server printed it; `None` for NULL.
    pub fn raw(&self, i: usize, col: &str) -> Result<Option<&'r [u8]>, DecodeError> {
        match &self.src {
            Source::Wire { data, spans, .. } => match spans.get(i) {
                Some(&(start, _)) if start == u32::MAX => Ok(None),
                Some(&(start, len)) => {
                    let (s, n) = (start as usize, len as usize);
                    data.get(s..s + n)
                        .map(Some)
                        .ok_or_else(|| derr(col, "a field beyond its row"))
                }
                None => Err(derr(col, format!("the row has no column {i}"))),
            },
            Source::Sqlx(row) => {
                let v = row.try_get_raw(i).map_err(|e| derr(col, e))?;
                if v.is_null() {
                    return Ok(None);
                }
                <&[u8] as sqlx::Decode<sqlx::MySql>>::decode(v)
                    .map(Some)
                    .map_err(|e| derr(col, e))
            }
        }
    }

    /// Column `i`'s name (for messages).
    pub fn name(&self, i: usize) -> String {
        use sqlx::Column as _;
        let name = match &self.src {
            Source::Wire { names, .. } => names.get(i).cloned(),
            Source::Sqlx(row) => row.columns().get(i).map(|c| c.name().to_owned()),
        };
        name.unwrap_or_else(|| format!("column {i}"))
    }

    /// A DECIMAL (or integer) field as an exact decimal; `None` for NULL.
    pub fn opt_decimal(
        &self,
        i: usize,
        col: &str,
    ) -> Result<Option<rust_decimal::Decimal>, DecodeError> {
        self.raw(i, col)?
            .map(|f| text_field::decimal(f, col))
            .transpose()
    }

    /// An integer field; `None` for NULL.
    pub fn opt_i64(&self, i: usize, col: &str) -> Result<Option<i64>, DecodeError> {
        self.raw(i, col)?
            .map(|f| text_field::int(f, col))
            .transpose()
    }

    /// An amount of at most two decimals in cents; `None` for NULL.
    pub fn opt_cents(&self, i: usize, col: &str) -> Result<Option<i64>, DecodeError> {
        self.raw(i, col)?
            .map(|f| text_field::cents(f, col))
            .transpose()
    }

    /// A UTF-8 text field; `None` for NULL.
    pub fn opt_text(&self, i: usize, col: &str) -> Result<Option<&'r str>, DecodeError> {
        self.raw(i, col)?
            .map(|f| text_field::text(f, col))
            .transpose()
    }

    /// A DATETIME or TIMESTAMP field; `None` for NULL.
    pub fn opt_time(&self, i: usize, col: &str) -> Result<Option<NaiveDateTime>, DecodeError> {
        self.raw(i, col)?
            .map(|f| text_field::time(f, col))
            .transpose()
    }
}
