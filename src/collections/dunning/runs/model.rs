//! The rows and views of dunning runs and the notices they send, and what a caller asks of
//! a run.

use diesel::prelude::*;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::collections::dunning::model::DunningAction;
use crate::money::Currency;

crate::text_enum! {
    /// What started a run.
    RunTrigger { Manual => "manual", Schedule => "schedule" }
}

crate::text_enum! {
    DunningRunStatus { Running => "running", Completed => "completed", Failed => "failed" }
}

crate::text_enum! {
    /// How a notice is delivered.
    NoticeChannel { Email => "email", Letter => "letter" }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset, Serialize, ToSchema)]
#[diesel(table_name = crate::schema::dunning_runs, treat_none_as_null = true)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct DunningRunView {
    pub id: Uuid,
    pub as_of: Date,
    pub trigger: RunTrigger,
    pub status: DunningRunStatus,
    pub started_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
    /// Past-due invoices the run considered.
    pub invoices_examined: i32,
    /// Steps it performed (each once per invoice).
    pub steps_performed: i32,
    pub notices: i32,
    pub tasks: i32,
    pub service_orders: i32,
    pub promises_kept: i32,
    pub promises_broken: i32,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = crate::schema::notices)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct NoticeRow {
    pub id: Uuid,
    pub number: String,
    pub account_id: Uuid,
    pub invoice_id: Uuid,
    pub policy_id: Uuid,
    pub step_no: i32,
    pub action: DunningAction,
    pub channel: NoticeChannel,
    pub recipient: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    pub amount: Decimal,
    pub currency: Currency,
    pub run_id: Uuid,
    pub created_at: OffsetDateTime,
}

/// A notice as rendered and recorded for delivery.
#[derive(Debug, Serialize, ToSchema)]
pub struct NoticeView {
    pub id: Uuid,
    #[schema(example = "NTC-000001")]
    pub number: String,
    pub account_id: Uuid,
    pub invoice_id: Uuid,
    pub policy_id: Uuid,
    pub step_no: i32,
    pub action: DunningAction,
    pub channel: NoticeChannel,
    /// An email address, or the postal addressee and address.
    pub recipient: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    /// The undisputed past-due amount dunned.
    #[schema(value_type = crate::money::DecimalString, example = "120.00")]
    pub amount: Decimal,
    pub currency: Currency,
    pub run_id: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<NoticeRow> for NoticeView {
    fn from(r: NoticeRow) -> Self {
        let amount = r.currency.normalize(r.amount);
        NoticeView {
            id: r.id,
            number: r.number,
            account_id: r.account_id,
            invoice_id: r.invoice_id,
            policy_id: r.policy_id,
            step_no: r.step_no,
            action: r.action,
            channel: r.channel,
            recipient: r.recipient,
            subject: r.subject,
            body_text: r.body_text,
            body_html: r.body_html,
            amount,
            currency: r.currency,
            run_id: r.run_id,
            created_at: r.created_at,
        }
    }
}

/// A run asked for by hand.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDunningRun {
    /// The day to dun as of (default today; within a year either way). Balances are today's.
    /// A day after today can only be previewed.
    pub as_of: Option<Date>,
    /// Answer what the run would do without doing it (default: true after today, else false).
    pub preview: Option<bool>,
}

/// A step a run would perform on an invoice.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlannedStep {
    pub account_id: Uuid,
    pub invoice_id: Uuid,
    pub invoice_number: String,
    /// Days past due on the run's `as_of`.
    pub days_past_due: i32,
    /// The undisputed balance (today's).
    #[schema(value_type = crate::money::DecimalString, example = "120.00")]
    pub amount: Decimal,
    pub currency: Currency,
    pub step_no: i32,
    pub action: DunningAction,
    /// Earlier due steps it would record as superseded.
    pub superseded_steps: Vec<i32>,
    /// For notices: how it would go out and what it would say.
    pub channel: Option<NoticeChannel>,
    pub recipient: Option<String>,
    /// The notice's subject, or the task's or order's title.
    pub subject: String,
    pub body_text: String,
}

/// What a run would do, done nothing of: no step recorded, no notice, task or order made, no
/// promise reviewed.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunPreview {
    pub as_of: Date,
    /// Always true.
    pub preview: bool,
    /// Past-due invoices the run would consider (as of `as_of`; promises and disputes as they
    /// stand today).
    pub invoices_examined: i32,
    pub steps: Vec<PlannedStep>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NoticeFilter {
    pub account_id: Option<Uuid>,
    pub invoice_id: Option<Uuid>,
}

impl crate::audit::Audited for NoticeView {
    const ENTITY: &'static str = "notice";

    fn entity_id(&self) -> Uuid {
        self.id
    }

    fn account_id(&self) -> Option<Uuid> {
        Some(self.account_id)
    }
}
