//! Inbound CRM events: `POST /v1/integrations/crm/events` takes one event signed with a
//! source's secret (`crate::signature`), stores it once per source and event id with its raw
//! body, and processes it in the same transaction through the services of accounts, contracts
//! and service orders. Failed events are listed and retried after a fix.

pub mod model;
pub mod routes;
pub mod rules;
pub mod service;
pub mod settings;
pub mod store;
