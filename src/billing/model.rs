//! Billing run rows and their JSON shapes.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;
use uuid::Uuid;

crate::text_enum! {
    /// `draft`: invoices are created as drafts; `issue`: they are numbered and open.
    RunMode { Draft => "draft", Issue => "issue" }
}

crate::text_enum! {
    /// How a run is asked for: `draft` and `issue` as [`RunMode`]; `preview` answers what the
    /// run would bill and writes nothing.
    NewRunMode { Draft => "draft", Issue => "issue", Preview => "preview" }
}

crate::text_enum! {
    BillingRunStatus { Queued => "queued", Running => "running", Completed => "completed", Failed => "failed" }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = crate::schema::billing_runs)]
pub struct RunRow {
    pub id: Uuid,
    pub as_of: Date,
    pub account_id: Option<Uuid>,
    pub contract_id: Option<Uuid>,
    pub mode: RunMode,
    pub status: BillingRunStatus,
    pub contracts_total: Option<i32>,
    pub contracts_done: i32,
    pub invoices_created: i32,
    pub errors_count: i32,
    pub failure: Option<String>,
    pub requested_by: String,
    pub request_id: Option<String>,
    pub claimed_by: Option<String>,
    pub heartbeat_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub started_at: Option<OffsetDateTime>,
    pub finished_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = crate::schema::billing_run_errors)]
pub struct RunErrorRow {
    pub id: i64,
    pub run_id: Uuid,
    pub contract_id: Uuid,
    pub code: String,
    pub reason: String,
    pub created_at: OffsetDateTime,
}

/// A contract the run could not bill, and why.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunErrorView {
    pub contract_id: Uuid,
    /// `no_basis_for_estimate`, `no_start_reading`, `no_meter_plan`, `not_issued`,
    /// `usage_invoice_draft`, `failed`.
    #[schema(example = "no_basis_for_estimate")]
    pub code: String,
    pub reason: String,
}

/// How far a run has come.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunProgress {
    /// Contracts in scope; known once the run starts.
    pub contracts_total: Option<i32>,
    pub contracts_done: i32,
    pub invoices_created: i32,
    pub errors: i32,
}

/// A billing run.
#[derive(Debug, Serialize, ToSchema)]
pub struct BillingRunView {
    pub id: Uuid,
    pub as_of: Date,
    pub account_id: Option<Uuid>,
    pub contract_id: Option<Uuid>,
    pub mode: RunMode,
    pub status: BillingRunStatus,
    pub progress: RunProgress,
    /// Contracts not billed, with the reason (first 1,000).
    pub errors: Vec<RunErrorView>,
    /// Why the run itself failed.
    pub failure: Option<String>,
    pub requested_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub started_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
}

impl BillingRunView {
    pub fn new(r: RunRow, errors: Vec<RunErrorRow>) -> BillingRunView {
        BillingRunView {
            id: r.id,
            as_of: r.as_of,
            account_id: r.account_id,
            contract_id: r.contract_id,
            mode: r.mode,
            status: r.status,
            progress: RunProgress {
                contracts_total: r.contracts_total,
                contracts_done: r.contracts_done,
                invoices_created: r.invoices_created,
                errors: r.errors_count,
            },
            errors: errors
                .into_iter()
                .map(|e| RunErrorView {
                    contract_id: e.contract_id,
                    code: e.code,
                    reason: e.reason,
                })
                .collect(),
            failure: r.failure,
            requested_by: r.requested_by,
            created_at: r.created_at,
            started_at: r.started_at,
            finished_at: r.finished_at,
        }
    }
}

/// A billing run to start.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"as_of": "2026-11-01", "mode": "draft"}))]
pub struct NewBillingRun {
    /// Bill every period due by this date (not in the future).
    pub as_of: Date,
    /// Only this account's contracts.
    pub account_id: Option<Uuid>,
    /// Only this contract.
    pub contract_id: Option<Uuid>,
    /// Default `draft`. `preview` computes and answers what the run would bill (200) and
    /// writes nothing: no invoice, no estimate, no period consumed.
    pub mode: Option<NewRunMode>,
}

impl crate::audit::Audited for BillingRunView {
    const ENTITY: &'static str = "billing_run";
    fn entity_id(&self) -> Uuid {
        self.id
    }
    fn account_id(&self) -> Option<Uuid> {
        self.account_id
    }
}
