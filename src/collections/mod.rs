//! Collections: what is past due and how late (the aging report).

pub mod aging;
