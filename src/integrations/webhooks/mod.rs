//! Webhooks: endpoints subscribe to the service's events (`crate::outbox`); every instance's
//! worker delivers them, signed, retried, in order per resource.

pub mod client;
pub mod model;
pub mod routes;
pub mod rules;
pub mod service;
pub mod settings;
pub mod store;
pub mod worker;
