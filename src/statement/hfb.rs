//! The `hfb` statement: UTF-8 CSV,
//! `agent_bill_no,bind_code,charge_amt,fee_amt,status,paid_at`.

use crate::money::format_amount;
use chrono::NaiveDateTime;
use rust_decimal::Decimal;
use std::io::Write;

/// The header line.
pub const HEADER: [&str; 6] = [
    "agent_bill_no",
    "bind_code",
    "charge_amt",
    "fee_amt",
    "status",
    "paid_at",
];

/// Gateway-side status of a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum GatewayStatus {
    /// Paid and settled.
    Success,
    /// Refunded to the payer after paying.
    Refund,
    /// Revoked (reversed) by the gateway.
    Revoked,
}

impl GatewayStatus {
    /// The file's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "SUCCESS",
            Self::Refund => "REFUND",
            Self::Revoked => "REVOKED",
        }
    }
}

/// One statement line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Merchant order number (`agentBillNo`).
    pub agent_bill_no: String,
    /// `bindCode`.
    pub bind_code: String,
    /// Amount charged.
    pub charge_amt: Decimal,
    /// Gateway fee.
    pub fee_amt: Decimal,
    /// Status.
    pub status: GatewayStatus,
    /// When the gateway took the money (business time).
    pub paid_at: NaiveDateTime,
}

/// Writes a whole statement. The file is written to a temporary name and
/// renamed, so a failed write never leaves a half file behind.
pub fn write_file(path: &std::path::Path, lines: &[Line]) -> std::io::Result<()> {
    let tmp = path.with_extension("csv.partial");
    {
        let f = std::fs::File::create(&tmp)?;
        let mut w = csv::Writer::from_writer(std::io::BufWriter::new(f));
        w.write_record(HEADER)?;
        for l in lines {
            w.write_record([
                l.agent_bill_no.as_str(),
                l.bind_code.as_str(),
                &format_amount(l.charge_amt),
                &format_amount(l.fee_amt),
                l.status.as_str(),
                &l.paid_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            ])?;
        }
        let mut inner = w.into_inner().map_err(|e| e.into_error())?;
        inner.flush()?;
    }
    std::fs::rename(&tmp, path)
}
