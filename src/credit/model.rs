//! Credit review and hold rows, the JSON shapes sent and received, and their conversions.

use diesel::prelude::*;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::accounts::model::{CreditStatus, RiskLevel};
use crate::money::Currency;

crate::text_enum! {
    /// pending → approved | declined, or escalated (to a role with unlimited authority) →
    /// approved | declined.
    ReviewStatus { Pending => "pending", Escalated => "escalated", Approved => "approved", Declined => "declined" }
}

crate::text_enum! {
    /// Why the review was asked for.
    ReviewReason {
        NewBusiness => "new_business",
        LimitIncrease => "limit_increase",
        Periodic => "periodic",
        TermsException => "terms_exception",
    }
}

crate::text_enum! {
    /// Whether a credit analyst placed the hold or the scheduled job did (days past due).
    HoldSource { Manual => "manual", Automatic => "automatic" }
}

/// A credit agency's score of the customer, as its report gives it.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Serialize,
    Deserialize,
    ToSchema,
    diesel::expression::AsExpression,
    diesel::deserialize::FromSqlRow,
)]
#[diesel(sql_type = diesel::sql_types::Jsonb)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"agency": "Dun & Bradstreet", "score": 72, "rating": "3A2", "report_date": "2026-11-02"}))]
pub struct ExternalScore {
    #[schema(max_length = 100)]
    pub agency: String,
    /// 0 to 10000, on the agency's scale.
    #[schema(minimum = 0, maximum = 10000)]
    pub score: i32,
    #[schema(max_length = 20)]
    pub rating: Option<String>,
    /// Not after today.
    pub report_date: Date,
}

/// One figure of the payment history and what it is computed from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Figure {
    /// The figure: days, a percentage, an amount or a count (`null` when nothing to compute
    /// it from).
    #[serde(with = "crate::money::decimal_option")]
    #[schema(value_type = Option<crate::money::DecimalString>, example = "17.25")]
    pub value: Option<Decimal>,
    /// How many invoices (or payments, promises, disputes) it is computed from.
    pub count: i64,
    /// How it was computed: the formula, the period and what was counted.
    #[schema(
        example = "3 invoices paid between 2025-11-26 and 2026-11-25, 4000.00 in all: Σ(total × days past due date when paid) / Σ total"
    )]
    pub explanation: String,
}

/// The payment history a credit analyst reads, as of the review date, over the twelve months
/// that end on it.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Serialize,
    Deserialize,
    ToSchema,
    diesel::expression::AsExpression,
    diesel::deserialize::FromSqlRow,
)]
#[diesel(sql_type = diesel::sql_types::Jsonb)]
pub struct CreditHistory {
    pub as_of: Date,
    /// First day of the twelve months (the day after the same date a year before).
    pub period_from: Date,
    pub average_days_to_pay: Figure,
    pub average_days_beyond_terms: Figure,
    /// Percentage of the invoices paid by their due date.
    pub on_time_share: Figure,
    pub highest_balance: Figure,
    pub open_balance: Figure,
    pub past_due_balance: Figure,
    pub returned_payments: Figure,
    pub broken_promises: Figure,
    pub open_disputes: Figure,
    /// The account's risk score, 0–100 (see Collections, "Risk score").
    pub risk_score: Figure,
    pub risk_level: RiskLevel,
}
crate::jsonb_column!(CreditHistory);
crate::jsonb_column!(ExternalScore);

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = crate::schema::credit_reviews, treat_none_as_null = true)]
pub struct ReviewRow {
    pub id: Uuid,
    pub account_id: Uuid,
    pub status: ReviewStatus,
    pub reason: ReviewReason,
    pub currency: Currency,
    pub requested_limit: Decimal,
    pub requested_terms_days: i32,
    pub current_limit: Option<Decimal>,
    pub current_terms_days: i32,
    pub terms_exception: bool,
    pub note: Option<String>,
    pub external_score: Option<ExternalScore>,
    pub review_date: Date,
    pub history: CreditHistory,
    pub requested_by: String,
    pub escalated_by: Option<String>,
    pub escalation_note: Option<String>,
    pub decided_by: Option<String>,
    pub decided_role: Option<String>,
    pub decided_at: Option<OffsetDateTime>,
    pub decision_note: Option<String>,
    pub version: i32,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// A credit review: what was asked, the payment history as of its date, and the decision.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReviewView {
    pub id: Uuid,
    pub account_id: Uuid,
    pub status: ReviewStatus,
    pub reason: ReviewReason,
    pub currency: Currency,
    #[serde(with = "crate::money::decimal")]
    #[schema(value_type = crate::money::DecimalString, example = "75000.00")]
    pub requested_limit: Decimal,
    #[schema(example = 45)]
    pub requested_terms_days: i32,
    /// The account's limit when the review was opened.
    #[serde(with = "crate::money::decimal_option")]
    #[schema(value_type = Option<crate::money::DecimalString>, example = "25000.00")]
    pub current_limit: Option<Decimal>,
    pub current_terms_days: i32,
    /// The requested terms are longer than the standard terms: only a role with unlimited
    /// authority approves them.
    pub terms_exception: bool,
    pub note: Option<String>,
    pub external_score: Option<ExternalScore>,
    pub review_date: Date,
    pub history: CreditHistory,
    /// Token subject of whoever asked for the review (`system:credit` for periodic ones).
    pub requested_by: String,
    pub escalated_by: Option<String>,
    pub escalation_note: Option<String>,
    pub decided_by: Option<String>,
    pub decided_role: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub decided_at: Option<OffsetDateTime>,
    pub decision_note: Option<String>,
    /// Optimistic-concurrency version; also sent as the ETag.
    pub version: i32,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<ReviewRow> for ReviewView {
    fn from(r: ReviewRow) -> Self {
        let c = r.currency;
        ReviewView {
            id: r.id,
            account_id: r.account_id,
            status: r.status,
            reason: r.reason,
            currency: c,
            requested_limit: c.normalize(r.requested_limit),
            requested_terms_days: r.requested_terms_days,
            current_limit: r.current_limit.map(|l| c.normalize(l)),
            current_terms_days: r.current_terms_days,
            terms_exception: r.terms_exception,
            note: r.note,
            external_score: r.external_score,
            review_date: r.review_date,
            history: r.history,
            requested_by: r.requested_by,
            escalated_by: r.escalated_by,
            escalation_note: r.escalation_note,
            decided_by: r.decided_by,
            decided_role: r.decided_role,
            decided_at: r.decided_at,
            decision_note: r.decision_note,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A request for a credit review of the account.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "requested_limit": "75000.00", "requested_terms_days": 45, "reason": "limit_increase",
    "note": "Three new sites signed",
    "external_score": {"agency": "Dun & Bradstreet", "score": 72, "rating": "3A2", "report_date": "2026-11-02"}
}))]
pub struct NewReview {
    /// At least 0, in the account's currency.
    #[serde(with = "crate::money::decimal")]
    #[schema(value_type = crate::money::DecimalString, example = "75000.00")]
    pub requested_limit: Decimal,
    /// Net days, 0 to 365.
    #[schema(minimum = 0, maximum = 365)]
    pub requested_terms_days: i32,
    pub reason: ReviewReason,
    #[schema(max_length = 2000)]
    pub note: Option<String>,
    pub external_score: Option<ExternalScore>,
}

/// A decision on a review: approve, decline or escalate.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"note": "Paid on time for two years"}))]
pub struct Decision {
    #[schema(max_length = 2000)]
    pub note: Option<String>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReviewFilter {
    pub account_id: Option<Uuid>,
    pub status: Option<ReviewStatus>,
    pub reason: Option<ReviewReason>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DueFilter {
    /// The day the reviews are due by (default today).
    pub as_of: Option<Date>,
}

/// An account whose credit review is due.
#[derive(Debug, Clone, Serialize, ToSchema, diesel::QueryableByName)]
pub struct DueAccount {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub account_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub account_number: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub legal_name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub risk_level: RiskLevel,
    #[diesel(sql_type = diesel::sql_types::Date)]
    pub next_review_date: Date,
    /// The periodic review open for it, if any.
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Uuid>)]
    pub open_review_id: Option<Uuid>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = crate::schema::credit_holds, treat_none_as_null = true)]
pub struct HoldRow {
    pub id: Uuid,
    pub account_id: Uuid,
    pub source: HoldSource,
    pub reason: String,
    pub placed_by: String,
    pub placed_at: OffsetDateTime,
    pub released_by: Option<String>,
    pub released_at: Option<OffsetDateTime>,
    pub release_note: Option<String>,
    pub version: i32,
}

/// A credit hold: it blocks new contracts, upgrades and manual invoices until released.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HoldView {
    pub id: Uuid,
    pub account_id: Uuid,
    pub source: HoldSource,
    #[schema(example = "Three returned payments since September")]
    pub reason: String,
    pub placed_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub placed_at: OffsetDateTime,
    pub released_by: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub released_at: Option<OffsetDateTime>,
    pub release_note: Option<String>,
    pub version: i32,
}

impl From<HoldRow> for HoldView {
    fn from(r: HoldRow) -> Self {
        HoldView {
            id: r.id,
            account_id: r.account_id,
            source: r.source,
            reason: r.reason,
            placed_by: r.placed_by,
            placed_at: r.placed_at,
            released_by: r.released_by,
            released_at: r.released_at,
            release_note: r.release_note,
            version: r.version,
        }
    }
}

/// Puts the account on credit hold.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "Three returned payments since September"}))]
pub struct PlaceHold {
    #[schema(max_length = 500)]
    pub reason: String,
}

/// Releases the account's credit hold.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"note": "Past-due balance paid in full"}))]
#[derive(Default)]
pub struct ReleaseHold {
    #[schema(max_length = 2000)]
    pub note: Option<String>,
}

/// What the account owes and is committed to, against its credit limit.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Exposure {
    /// Open invoice balances less unapplied cash and unapplied credits.
    #[serde(with = "crate::money::decimal")]
    #[schema(value_type = crate::money::DecimalString, example = "18250.00")]
    pub balance: Decimal,
    /// One billing period of the recurring charges of active contracts that run on.
    #[serde(with = "crate::money::decimal")]
    #[schema(value_type = crate::money::DecimalString, example = "2400.00")]
    pub committed_charges: Decimal,
    /// Active contracts counted in `committed_charges`.
    pub active_contracts: i64,
    /// `balance + committed_charges`.
    #[serde(with = "crate::money::decimal")]
    #[schema(value_type = crate::money::DecimalString, example = "20650.00")]
    pub total: Decimal,
    #[serde(with = "crate::money::decimal_option")]
    #[schema(value_type = Option<crate::money::DecimalString>, example = "25000.00")]
    pub credit_limit: Option<Decimal>,
    /// `credit_limit − total` (negative when over; absent without a limit).
    #[serde(with = "crate::money::decimal_option")]
    #[schema(value_type = Option<crate::money::DecimalString>, example = "4350.00")]
    pub available: Option<Decimal>,
    pub over_limit: bool,
}

/// An account's credit standing: limit, terms, exposure, hold and next review.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CreditProfile {
    pub account_id: Uuid,
    /// The account whose limit, reviews and holds apply: this one, or with `credit_scope:
    /// parent` the parent's credit account up the tree.
    pub credit_account_id: Uuid,
    /// The accounts whose balances and contracts the exposure counts: the credit account and
    /// every account under it that uses its credit.
    pub credit_family: Vec<Uuid>,
    pub currency: Currency,
    pub payment_terms_days: i32,
    pub credit_status: CreditStatus,
    pub risk_level: RiskLevel,
    pub exposure: Exposure,
    /// The hold in force, if any: on the account, or on an account above it whose credit it
    /// uses.
    pub hold: Option<HoldView>,
    /// When the account is next due for review (from its last decision, else its opening,
    /// and its risk level).
    pub next_review_date: Date,
}

/// A new document of a review, its content with it.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = crate::schema::credit_review_documents)]
pub struct NewDocumentRow<'a> {
    pub id: Uuid,
    pub review_id: Uuid,
    pub filename: &'a str,
    pub content_type: crate::contracts::documents::DocumentContentType,
    pub size_bytes: i64,
    pub sha256: &'a str,
    pub content: &'a [u8],
    pub uploaded_by: &'a str,
    pub created_at: OffsetDateTime,
}

/// A review document's metadata: every column but the content.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = crate::schema::credit_review_documents)]
pub struct DocumentRow {
    pub id: Uuid,
    pub review_id: Uuid,
    pub filename: String,
    pub content_type: crate::contracts::documents::DocumentContentType,
    pub size_bytes: i64,
    pub sha256: String,
    pub uploaded_by: String,
    pub created_at: OffsetDateTime,
}

/// A file kept with a review (the agency's report, say); its content is fetched on its own.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReviewDocumentView {
    pub id: Uuid,
    pub review_id: Uuid,
    #[schema(example = "D&B report 2026-11.pdf")]
    pub filename: String,
    pub content_type: crate::contracts::documents::DocumentContentType,
    pub size_bytes: i64,
    /// Lowercase hex SHA-256 of the content; also the ETag of the download.
    pub sha256: String,
    pub uploaded_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<DocumentRow> for ReviewDocumentView {
    fn from(r: DocumentRow) -> Self {
        ReviewDocumentView {
            id: r.id,
            review_id: r.review_id,
            filename: r.filename,
            content_type: r.content_type,
            size_bytes: r.size_bytes,
            sha256: r.sha256,
            uploaded_by: r.uploaded_by,
            created_at: r.created_at,
        }
    }
}

/// The file name of an upload (checked by the handler: a 422 naming it).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DocumentParams {
    /// 1 to 255 characters, without `/` or control characters.
    #[param(required = true, example = "D&B report 2026-11.pdf")]
    pub filename: Option<String>,
}
