//! Invoices and their lines, as billing runs create them.

pub mod model;
pub mod routes;
pub mod rules;
pub mod store;
