//! Invoices and their lines, as billing runs create them.

pub mod document;
pub mod model;
pub mod presentments;
pub mod routes;
pub mod rules;
pub mod service;
pub mod settings;
pub mod store;
