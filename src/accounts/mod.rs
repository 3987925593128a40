//! Customer accounts and their billing contacts.

pub mod activity;
pub mod contacts;
pub mod family;
pub mod model;
pub mod routes;
pub mod rules;
pub mod service;
pub mod statement;
pub mod store;
