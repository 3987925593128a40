//! The chart of financial (GL) codes carried by every invoice line, credit and adjustment.

pub mod model;
pub mod routes;
pub mod service;
pub mod store;
