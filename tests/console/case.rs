//! Console tests: case (driven through egui_kittest; see the harness in ../console.rs).

#[allow(unused_imports)]
use super::*;
