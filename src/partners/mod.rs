//! Partners (dealers): the resellers whose portals see their own accounts.

pub mod model;
pub mod routes;
pub mod service;
pub mod store;
