//! An account's collections profile (collector, segment, dunning policy, do-not-dun) and the
//! rules that fill collectors' portfolios; the collections view of one account; a collector's
//! worklist.

pub mod model;
pub mod routes;
pub mod rules;
pub mod service;
pub mod store;
pub mod worklist;

pub use routes::{
    apply_rules, create_rule, delete_rule, get_collections_account, list_rules, update_profile,
};
pub use store::find;
