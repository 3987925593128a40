//! Scheduled reports: a report with its parameters and format, built monthly or weekly by a
//! job that runs on every instance (once per schedule and date between them), its file kept
//! and announced to chosen webhook endpoints with a `report.ready` event.

pub mod model;
pub mod routes;
pub mod rules;
pub mod service;
pub mod store;
