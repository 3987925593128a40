//! Integration tests: the real app over HTTP against a real PostgreSQL, one database per test.

mod accounts;
mod audit;
mod auth;
mod billing;
mod clock;
mod collections;
mod contract_documents;
mod contracts;
mod conventions;
mod credits;
mod crm;
mod disputes;
mod dunning;
mod financial_codes;
mod helpers;
mod idempotency;
mod invoices;
mod openapi;
mod operations;
mod partners;
mod payments;
mod readings;
mod seed;
mod snapshots;
mod tasks;
