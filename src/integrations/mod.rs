//! The doors to other systems: events CRM systems post in, and webhooks the service sends out
//! from its outbox (`crate::outbox`).

pub mod crm;
pub mod webhooks;
