//! Integration tests: the real app over HTTP against a real PostgreSQL, one database per test.

mod accounts;
mod audit;
mod auth;
mod contract_documents;
mod conventions;
mod financial_codes;
mod helpers;
mod idempotency;
mod openapi;
mod operations;
mod partners;
mod tasks;
