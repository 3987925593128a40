//! Dunning runs: every few minutes on each instance, and on demand with an `as_of` date.
//!
//! A run first reviews active promises (breaking those missed), then takes every open invoice
//! with an undisputed balance past due, not covered by an active promise, of an account that
//! is neither marked do-not-dun, nor with an agency, written off or closed. For each, the
//! latest due step of the account's policy (days past due reached, minimum balance met) that
//! has not fired on the invoice is performed; earlier due steps it jumps over are recorded as
//! superseded. The primary key of `dunning_actions` (invoice, policy, step) makes each step
//! fire once per invoice however many runs or instances overlap; accounts are processed one
//! transaction each, under the account's row lock.
//!
//! A run never judges the future: promises are reviewed up to the run's `as_of`, which for a
//! run that acts is never after today. A run as of a later day is a preview: it answers what
//! would be done (each step and its rendered notice) and records nothing.

pub mod model;
pub mod recipients;
pub mod routes;
pub mod rules;
pub mod service;
pub mod store;

pub use routes::{
    create_dunning_run, get_notice, list_dunning_runs, list_notices, notice_document,
};
pub use service::{preview_run, run, spawn};
