//! Credit memos: drafts, approval above the issuer's limit, issue from a gapless series,
//! application to invoices, refunds, void, and the document.

pub mod document;
pub mod model;
pub mod routes;
pub mod rules;
pub mod service;
pub mod settings;
pub mod store;
