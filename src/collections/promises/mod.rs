//! Promises to pay and payment arrangements: one or more instalments (amount, date) totalling
//! at most the past-due balance, with grace days. active → kept | broken | cancelled.
//!
//! Payments count towards a promise from the day it was made, in the order received, net of
//! refunds and not when returned. Instalment k is kept once the payments received by its date
//! plus grace cover instalments 1..k; it is missed when that day has passed uncovered, which
//! breaks the promise. A promise is kept when every instalment is. A returned payment that had
//! kept an instalment breaks the promise, kept or not.

pub mod model;
pub mod routes;
pub mod rules;
pub mod service;
pub mod store;

pub use model::{InstalmentStatus, PromiseRow, PromiseStatus, PromiseView};
pub use service::{review, Reviewed};
pub use store::{active_views, views, Scope};
