//! Inbound CRM events: the sources allowed to post them and their signing secrets.

pub mod settings;
