//! Payments and cash application: receipts, applications to invoices (by remittance, oldest
//! due first, or by hand) and their reversal, refunds, returned payments, and the deductions
//! short payments leave.

pub mod application;
pub mod deductions;
pub mod model;
pub mod requests;
pub mod routes;
pub mod rules;
pub mod service;
pub mod settings;
pub mod store;
