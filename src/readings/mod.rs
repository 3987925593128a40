//! Meter readings: actual readings posted one at a time or in batches, and the estimates
//! billing runs make when a period closes without one.

pub mod model;
pub mod routes;
pub mod rules;
pub mod service;
pub mod store;
