//! Reports for managers: figures as of any date or for a range of months, in JSON, CSV and
//! Excel. Each report is a model with its rules (`aging`, `kpis`, `past_due`, `cash_receipts`, `credits`,
//! `disputes`, `collectors`, `goals`), its SQL in `store`, and
//! one handler in `routes`; `catalog` builds each by its name (the routes and the schedules
//! alike), `format` names the formats; `schedules` builds reports on a calendar and keeps
//! their files.

pub mod aging;
pub mod cash_receipts;
pub mod catalog;
pub mod collectors;
pub mod credits;
pub mod disputes;
pub mod format;
pub mod goals;
pub mod kpis;
pub mod past_due;
pub mod routes;
pub mod schedules;
pub mod settings;
pub mod store;
