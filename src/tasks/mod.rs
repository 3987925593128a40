//! Tasks: work items shared by billing (first-invoice reviews) and collections (calls,
//! follow-ups). Other modules create them inside their own transactions with
//! [`store::insert`] and [`model::TaskRow::new`].

pub mod model;
pub mod routes;
pub mod service;
pub mod store;

pub use model::{Priority, SubjectType, TaskRow, TaskStatus, TaskView};
