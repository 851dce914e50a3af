//! Reconciliation: the database checks and statement matching of SPEC §4,
//! run as one [`reconcile`] with progress and cancellation.

pub mod checks;
pub mod custody;
pub mod fees;
pub mod finding;
pub mod matching;
pub mod risk;
pub mod run;
mod scan;
pub mod settlement;

pub use checks::{Scope, Skipped};
pub use finding::{Finding, Kind, Severity};
pub use matching::{FileRole, FileSummary, StatementInput};
pub use risk::{AtRisk, RiskCounter, RiskGroup};
pub use run::{Period, RunOptions, RunOutput, RunStatus, Unverified, reconcile, write_outputs};
