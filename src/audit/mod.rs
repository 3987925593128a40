//! The audit log: every change of state writes one entry in its own transaction.

pub mod model;
pub mod routes;
pub mod store;

pub use store::{changed, created_many, Audited};
