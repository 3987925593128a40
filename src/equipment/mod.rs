//! Equipment under contract and its meters, each meter with its plan over time.

pub mod model;
pub mod routes;
pub mod rules;
pub mod service;
pub mod store;
