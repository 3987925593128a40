//! Adjustments: late fees (billed on a fee invoice), small-balance and bad-debt write-offs,
//! and recoveries of written-off invoices. None edits an issued invoice's lines; each is a
//! ledger entry and an audit event.

pub mod model;
pub mod routes;
pub mod rules;
pub mod service;
pub mod store;
