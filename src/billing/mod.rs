//! Billing runs: background jobs that invoice every contract period that is due.

pub mod engine;
pub mod model;
pub mod preview;
pub mod routes;
pub mod rules;
pub mod service;
pub mod settings;
pub mod store;
pub mod worker;
