//! Credit management: credit reviews with the payment history the service computes for them,
//! approval authority by role and amount, periodic reviews; exposure against the credit
//! limit; credit holds.
//!
//! Exposure is the account's balance (open invoice balances less unapplied cash and credits)
//! plus one billing period of the recurring charges of its active contracts that run on (no
//! end date): what the next billing will add. A hold blocks new contracts, upgrades and manual
//! invoices (409 `credit_hold` naming the hold).

pub mod documents;
pub mod model;
pub mod routes;
pub mod rules;
pub mod service;
pub mod settings;
pub mod store;

pub use service::{check_exposure, check_exposures, refuse_hold, scheduled};
