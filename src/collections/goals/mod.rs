//! Monthly collection goals: what a collector or a team is to collect in a month and how
//! small the share past due is to be at its end, set by collection managers and measured by
//! the goals report.

pub mod model;
pub mod routes;
pub mod rules;
pub mod service;
pub mod store;
