//! payrecon · 支付对账台 — a console for the people who keep a payment
//! system's money straight.
//!
//! The data path is database → engine → views:
//! [`db`] connects (read-only unless asked) and discovers the schema,
//! [`payment`] is the seeds' reference payment core, [`simulate`] drives it
//! with hfb's retrying gateway, [`statement`] writes and reads gateway
//! statement files.

pub mod browse;
pub mod case;
pub mod db;
pub mod demo;
pub mod export;
pub mod gui;
pub mod model;
pub mod money;
pub mod ops;
pub mod payment;
pub mod recon;
pub mod simulate;
pub mod statement;
pub mod stats;
pub mod views;
pub mod workspace;
