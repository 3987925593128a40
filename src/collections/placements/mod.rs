//! Agency placement: an account's past-due invoices handed to an outside agency (agency,
//! date, amount placed, commission rate). The account is `with_agency` and dunning stops.
//! Recoveries are payments of the whole amount the agency collected, applied oldest due first
//! (so the customer's invoices are settled by what the customer paid), and the agency's
//! commission is posted as its own entry, an `agency_commission` adjustment under the
//! placement's `expense` code: payment − commission is what the agency deposits, so the bank's
//! deposit and the cash receipts reconcile. A recall ends the placement and puts the account
//! back in dunning.

pub mod model;
pub mod routes;
pub mod rules;
pub mod service;
pub mod store;
