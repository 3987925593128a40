//! The A/R ledger: one append-only list of signed money movements per account. Account and
//! invoice balances derive from it; every later money movement writes here and nowhere else.

pub mod model;
pub mod store;
