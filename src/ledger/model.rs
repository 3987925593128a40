//! Ledger entry rows and their JSON shape.

use diesel::prelude::*;
use rust_decimal::Decimal;
use serde::Serialize;
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::money::Currency;

crate::text_enum! {
    /// What moved: `+` entries raise what the account owes, `−` entries lower it.
    LedgerKind {
        InvoiceIssued => "invoice_issued",
        InvoiceVoided => "invoice_voided",
        PaymentReceived => "payment_received",
        PaymentApplied => "payment_applied",
        PaymentReversal => "payment_reversal",
        CreditIssued => "credit_issued",
        CreditApplied => "credit_applied",
        CreditReversal => "credit_reversal",
        Adjustment => "adjustment",
        WriteOff => "write_off",
        Refund => "refund",
    }
}

crate::text_enum! {
    /// The document an entry comes from.
    DocumentType { Invoice => "invoice", Payment => "payment", CreditMemo => "credit_memo", Adjustment => "adjustment" }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = crate::schema::ledger_entries)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct EntryRow {
    pub id: Uuid,
    #[diesel(skip_insertion)]
    pub seq: i64,
    pub account_id: Uuid,
    pub invoice_id: Option<Uuid>,
    pub kind: LedgerKind,
    pub amount: Decimal,
    pub currency: Currency,
    pub entry_date: Date,
    pub document_type: DocumentType,
    pub document_id: Uuid,
    pub description: String,
    pub created_by: String,
    pub request_id: Option<String>,
    pub created_at: OffsetDateTime,
}

/// A ledger entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct EntryView {
    pub id: Uuid,
    pub kind: LedgerKind,
    /// Signed: positive raises the balance, negative lowers it.
    #[schema(value_type = crate::money::DecimalString, example = "321.81")]
    pub amount: Decimal,
    pub currency: Currency,
    pub entry_date: Date,
    pub invoice_id: Option<Uuid>,
    pub document_type: DocumentType,
    pub document_id: Uuid,
    pub description: String,
}

impl From<EntryRow> for EntryView {
    fn from(r: EntryRow) -> Self {
        EntryView {
            id: r.id,
            kind: r.kind,
            amount: r.currency.normalize(r.amount),
            currency: r.currency,
            entry_date: r.entry_date,
            invoice_id: r.invoice_id,
            document_type: r.document_type,
            document_id: r.document_id,
            description: r.description,
        }
    }
}

/// An account's balance and what it is made of. `balance` is the ledger's sum and always
/// equals `open_balance − unapplied_cash − unapplied_credits`.
#[derive(Debug, Clone, Serialize, ToSchema, diesel::QueryableByName)]
pub struct BalanceSummary {
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    #[schema(value_type = crate::money::DecimalString, example = "1250.00")]
    pub balance: Decimal,
    /// Sum of the open invoices' balances.
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    #[schema(value_type = crate::money::DecimalString, example = "1250.00")]
    pub open_balance: Decimal,
    /// The part of it past its due date.
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    #[schema(value_type = crate::money::DecimalString, example = "400.00")]
    pub past_due: Decimal,
    /// The part of it under open dispute.
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    #[schema(value_type = crate::money::DecimalString, example = "0.00")]
    pub disputed: Decimal,
    /// Payments received and not applied to invoices.
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    #[schema(value_type = crate::money::DecimalString, example = "0.00")]
    pub unapplied_cash: Decimal,
    /// Credits issued and not applied to invoices.
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    #[schema(value_type = crate::money::DecimalString, example = "0.00")]
    pub unapplied_credits: Decimal,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub open_invoices: i64,
}

impl BalanceSummary {
    pub fn normalized(mut self, currency: crate::money::Currency) -> BalanceSummary {
        for amount in [
            &mut self.balance,
            &mut self.open_balance,
            &mut self.past_due,
            &mut self.disputed,
            &mut self.unapplied_cash,
            &mut self.unapplied_credits,
        ] {
            *amount = currency.normalize(*amount);
        }
        self
    }
}

/// Who does a change, when, and under which request: stamped on rows and ledger entries.
#[derive(Debug, Clone)]
pub struct Stamp {
    pub now: OffsetDateTime,
    pub actor: String,
    pub request_id: Option<String>,
}

impl Stamp {
    pub fn today(&self) -> Date {
        self.now.date()
    }

    /// A ledger entry made by this change.
    pub fn entry(
        &self,
        on: Target,
        kind: LedgerKind,
        amount: Decimal,
        date: Date,
        document: (DocumentType, Uuid),
        description: String,
    ) -> EntryRow {
        EntryRow {
            id: Uuid::now_v7(),
            seq: 0,
            account_id: on.account_id,
            invoice_id: on.invoice_id,
            kind,
            amount,
            currency: on.currency,
            entry_date: date,
            document_type: document.0,
            document_id: document.1,
            description,
            created_by: self.actor.clone(),
            request_id: self.request_id.clone(),
            created_at: self.now,
        }
    }
}

/// Where an entry goes: the account, and the invoice when it changes an invoice's balance.
pub struct Target {
    pub account_id: Uuid,
    pub invoice_id: Option<Uuid>,
    pub currency: Currency,
}
