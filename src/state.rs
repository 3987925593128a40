//! What every handler can reach: the application's shared state, built once by `lib.rs`.

use std::sync::Arc;

use actix_web::web;

use crate::clock::Clock;
use crate::db::DbPool;
use crate::observability::Metrics;
use crate::openapi::RouteTable;
use crate::settings::Config;

/// What every handler can reach.
pub struct AppState {
    pub pool: DbPool,
    /// What the reports read with: a read replica's pool when `DATABASE_READ_URL` is set,
    /// else the same as `pool`.
    pub read_pool: DbPool,
    pub config: Config,
    pub metrics: web::Data<Metrics>,
    pub routes: Arc<RouteTable>,
    pub openapi_json: String,
    /// Wakes this instance's billing worker when a run is queued here.
    pub billing_wakeup: Arc<tokio::sync::Notify>,
    /// The one clock every date and timestamp comes from.
    pub clock: Clock,
}
