//! Dunning policies: ordered steps by days past due, each an action with a template and a
//! minimum balance. Every change makes a new version; earlier versions keep their steps, and
//! runs use the newest. An account's policy is its own, else its segment's, else the default.
//!
//! `model` holds the rows and views, `template` the notice template engine, `rules` the pure
//! checks and the choice of the step due, `store` the SQL, `service` the changes, `routes` the
//! handlers; `runs`
//! performs the steps.

pub mod model;
pub mod routes;
pub mod rules;
pub mod runs;
pub mod service;
pub mod store;
pub mod template;

pub use routes::{create_policy, get_policy, list_policies, update_policy};
