//! Contracts: terms, recurring charges, amendments (the contract's history).

pub mod amendments;
pub mod documents;
pub mod model;
pub mod reconciliation;
pub mod requests;
pub mod routes;
pub mod rules;
pub mod service;
pub mod store;
