//! Dispute rows and their JSON shapes.

use diesel::prelude::*;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::money::Currency;

crate::text_enum! {
    /// What the customer says is wrong.
    DisputeReason {
        Pricing => "pricing",
        MeterReading => "meter_reading",
        BilledAfterTermination => "billed_after_termination",
        Duplicate => "duplicate",
        Tax => "tax",
        ServiceNotRendered => "service_not_rendered",
        EquipmentNotInstalled => "equipment_not_installed",
        Other => "other",
    }
}

crate::text_enum! {
    /// open → under_review → resolved_valid | resolved_invalid | withdrawn (an open dispute
    /// may also be resolved or withdrawn directly).
    DisputeStatus {
        Open => "open",
        UnderReview => "under_review",
        ResolvedValid => "resolved_valid",
        ResolvedInvalid => "resolved_invalid",
        Withdrawn => "withdrawn",
    }
}

crate::text_enum! {
    /// Why it happened, found on resolution, for the managers' root-cause review.
    RootCause {
        BillingError => "billing_error",
        MeterMisread => "meter_misread",
        ContractSetup => "contract_setup",
        PricingSetup => "pricing_setup",
        CustomerMisunderstanding => "customer_misunderstanding",
        DuplicateBilling => "duplicate_billing",
        Other => "other",
    }
}

crate::text_enum! {
    /// How a resolution goes.
    DisputeOutcome { Valid => "valid", Invalid => "invalid" }
}

crate::text_enum! {
    /// Where a dispute stands against its SLA due date.
    SlaState { Breached => "breached", OnTrack => "on_track" }
}

impl DisputeStatus {
    /// Whether the dispute still holds its amount on the invoice.
    pub fn is_active(self) -> bool {
        matches!(self, DisputeStatus::Open | DisputeStatus::UnderReview)
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = crate::schema::disputes, treat_none_as_null = true)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct DisputeRow {
    pub id: Uuid,
    pub number: String,
    pub account_id: Uuid,
    pub invoice_id: Uuid,
    pub invoice_line_id: Option<Uuid>,
    pub deduction_id: Option<Uuid>,
    pub amount: Decimal,
    pub currency: Currency,
    pub reason: DisputeReason,
    pub description: String,
    pub contact_name: Option<String>,
    pub contact_email: Option<String>,
    pub contact_phone: Option<String>,
    pub status: DisputeStatus,
    pub assignee: Option<String>,
    pub opened_on: Date,
    pub sla_due_date: Date,
    pub root_cause: Option<RootCause>,
    pub resolution_note: Option<String>,
    pub approved_amount: Option<Decimal>,
    pub credit_memo_id: Option<Uuid>,
    pub resolved_at: Option<OffsetDateTime>,
    pub resolved_by: Option<String>,
    pub opened_by: String,
    pub version: i32,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    /// Of a taxable line: the tax on `amount`, held with it.
    pub tax_amount: Decimal,
}

impl DisputeRow {
    /// What the dispute holds on its invoice: the amount and the tax on it.
    pub fn held(&self) -> Decimal {
        self.amount + self.tax_amount
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = crate::schema::dispute_notes)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct NoteRow {
    pub id: Uuid,
    pub dispute_id: Uuid,
    pub author: String,
    pub text: String,
    pub created_at: OffsetDateTime,
}

/// Who to talk to about a dispute.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    #[schema(max_length = 200)]
    pub name: Option<String>,
    #[schema(value_type = Option<crate::validate::EmailAddress>)]
    pub email: Option<String>,
    #[schema(value_type = Option<crate::validate::PhoneNumber>)]
    pub phone: Option<String>,
}

/// A note on a dispute.
#[derive(Debug, Serialize, ToSchema)]
pub struct DisputeNoteView {
    pub id: Uuid,
    pub author: String,
    pub text: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A dispute with its notes.
#[derive(Debug, Serialize, ToSchema)]
pub struct DisputeView {
    pub id: Uuid,
    #[schema(example = "DSP-000001")]
    pub number: String,
    pub account_id: Uuid,
    pub invoice_id: Uuid,
    pub invoice_line_id: Option<Uuid>,
    /// The deduction it was opened from.
    pub deduction_id: Option<Uuid>,
    #[schema(value_type = crate::money::DecimalString, example = "200.00")]
    pub amount: Decimal,
    pub currency: Currency,
    pub reason: DisputeReason,
    pub description: String,
    pub contact: Contact,
    pub status: DisputeStatus,
    pub assignee: Option<String>,
    pub opened_on: Date,
    /// `opened_on` plus the SLA's business days (weekends and holidays skipped).
    pub sla_due_date: Date,
    /// `breached` while active past its due date, `on_track` while active before it; absent
    /// once closed.
    pub sla_state: Option<SlaState>,
    pub root_cause: Option<RootCause>,
    pub resolution_note: Option<String>,
    #[schema(value_type = Option<crate::money::DecimalString>, example = "150.00")]
    pub approved_amount: Option<Decimal>,
    /// The credit memo a valid resolution issued (or sent for approval).
    pub credit_memo_id: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub resolved_at: Option<OffsetDateTime>,
    pub resolved_by: Option<String>,
    pub opened_by: String,
    pub notes: Vec<DisputeNoteView>,
    pub version: i32,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl DisputeView {
    /// The view of a dispute; `sla_state` is where it stands today (`rules::sla_state`).
    pub fn new(d: DisputeRow, notes: Vec<NoteRow>, sla_state: Option<SlaState>) -> DisputeView {
        let money = |a: Decimal| d.currency.normalize(a);
        DisputeView {
            id: d.id,
            number: d.number.clone(),
            account_id: d.account_id,
            invoice_id: d.invoice_id,
            invoice_line_id: d.invoice_line_id,
            deduction_id: d.deduction_id,
            amount: money(d.amount),
            reason: d.reason,
            description: d.description.clone(),
            contact: Contact {
                name: d.contact_name.clone(),
                email: d.contact_email.clone(),
                phone: d.contact_phone.clone(),
            },
            status: d.status,
            assignee: d.assignee.clone(),
            opened_on: d.opened_on,
            sla_due_date: d.sla_due_date,
            sla_state,
            root_cause: d.root_cause,
            resolution_note: d.resolution_note.clone(),
            approved_amount: d.approved_amount.map(money),
            credit_memo_id: d.credit_memo_id,
            resolved_at: d.resolved_at,
            resolved_by: d.resolved_by.clone(),
            opened_by: d.opened_by.clone(),
            notes: notes
                .into_iter()
                .map(|n| DisputeNoteView {
                    id: n.id,
                    author: n.author,
                    text: n.text,
                    created_at: n.created_at,
                })
                .collect(),
            version: d.version,
            created_at: d.created_at,
            currency: d.currency,
        }
    }
}

/// A new dispute on an invoice (and optionally one of its lines).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"invoice_id": "0192f1d2-0000-7000-8000-000000000020", "amount": "200.00",
    "reason": "meter_reading", "description": "The colour count is ten times last month's",
    "contact": {"name": "Dana Ortiz", "email": "ap@acme.example"}}))]
pub struct NewDispute {
    pub invoice_id: Uuid,
    /// A line of that invoice.
    pub invoice_line_id: Option<Uuid>,
    /// More than zero, at most the invoice's undisputed balance.
    #[serde(with = "crate::money::decimal")]
    #[schema(value_type = crate::money::DecimalString, example = "200.00")]
    pub amount: Decimal,
    pub reason: DisputeReason,
    #[schema(max_length = 2000)]
    pub description: String,
    pub contact: Option<Contact>,
    /// Default: unassigned.
    #[schema(max_length = 100)]
    pub assignee: Option<String>,
}

/// Turns a deduction into a dispute, carrying its amount and reason.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisputeDeduction {
    /// Default: the deduction's reason in words.
    pub description: Option<String>,
    pub contact: Option<Contact>,
    pub assignee: Option<String>,
}

/// Changes to an active dispute. Absent fields stay; `null` unassigns.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisputePatch {
    #[serde(default, deserialize_with = "crate::validate::double_option")]
    #[schema(max_length = 100, value_type = Option<String>)]
    pub assignee: Option<Option<String>>,
    #[schema(max_length = 2000)]
    pub description: Option<String>,
    pub contact: Option<Contact>,
    /// The version being changed (or send `If-Match`).
    pub version: Option<i32>,
}

impl DisputePatch {
    /// Whether the patch changes nothing (only the version, or not even that).
    pub fn names_nothing(&self) -> bool {
        self.assignee.is_none() && self.description.is_none() && self.contact.is_none()
    }
}

/// Takes an open dispute under review.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewDispute {
    /// Default: whoever takes it under review, unless it is assigned already.
    #[schema(max_length = 100)]
    pub assignee: Option<String>,
}

/// A note on a dispute.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDisputeNote {
    #[schema(max_length = 4000)]
    pub text: String,
}

/// Resolves an active dispute. A valid one issues a credit memo for `approved_amount` under
/// `financial_code_id` (kind `credit`), applied to the invoice, in the same transaction.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"outcome": "valid", "root_cause": "meter_misread", "note": "Technician keyed 12,000 for 1,200",
    "approved_amount": "150.00", "financial_code_id": "0192f1d2-0000-7000-8000-000000000040"}))]
pub struct ResolveDispute {
    pub outcome: DisputeOutcome,
    pub root_cause: RootCause,
    #[schema(max_length = 2000)]
    pub note: String,
    /// Valid outcomes: more than zero, at most the disputed amount.
    #[serde(default, with = "crate::money::decimal_option")]
    #[schema(value_type = Option<crate::money::DecimalString>, example = "150.00")]
    pub approved_amount: Option<Decimal>,
    /// Valid outcomes: the code of the credit memo.
    pub financial_code_id: Option<Uuid>,
}

/// Withdraws an active dispute.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawDispute {
    #[schema(max_length = 2000)]
    pub note: Option<String>,
}

/// Filters of the dispute list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DisputeFilter {
    pub status: Option<DisputeStatus>,
    pub reason: Option<DisputeReason>,
    pub root_cause: Option<RootCause>,
    pub assignee: Option<String>,
    pub account_id: Option<Uuid>,
    pub partner_id: Option<Uuid>,
    pub invoice_id: Option<Uuid>,
    /// `breached`: active and past the SLA due date; `on_track`: active and not yet due.
    pub sla: Option<SlaState>,
}

impl crate::audit::Audited for DisputeView {
    const ENTITY: &'static str = "dispute";

    fn entity_id(&self) -> Uuid {
        self.id
    }

    fn account_id(&self) -> Option<Uuid> {
        Some(self.account_id)
    }
}
