//! Disputes: customer claims on invoices, their review within an SLA counted in business
//! days, and their resolution (a valid one credits the customer).

pub mod attachments;
pub mod model;
pub mod routes;
pub mod rules;
pub mod service;
pub mod store;
