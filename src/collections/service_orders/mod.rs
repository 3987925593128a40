//! Service orders: suspend, terminate, restore, equipment pick-up. Created by dunning steps,
//! automatically (a restore once a suspended account owes nothing past due) or by hand;
//! pending → sent → completed | cancelled. Completing one changes the account and its
//! contracts through the same amendments the contract API makes.

pub mod model;
pub mod routes;
pub mod rules;
pub mod service;
pub mod store;

pub use model::{OrderKind, OrderRow, OrderSource, OrderStatus, OrderView};
pub use service::{cancel_obsolete, create, has_open_dunning_orders};
