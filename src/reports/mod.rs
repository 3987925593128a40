//! Reports for managers: figures as of any date or for a range of months, in JSON, CSV and
//! Excel. Each report is a model with its rules (`aging`, `kpis`, `past_due`, `cash_receipts`, `credits`,
//! `disputes`, `collectors`, `goals`), its SQL in `store`, and
//! one handler in `routes`; `format` turns a report's table into the file asked for.

pub mod aging;
pub mod cash_receipts;
pub mod collectors;
pub mod credits;
pub mod disputes;
pub mod format;
pub mod goals;
pub mod kpis;
pub mod past_due;
pub mod routes;
pub mod store;
