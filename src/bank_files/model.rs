//! Bank file and bank transaction rows, what cash application made of each transaction, and
//! their JSON shapes (a file with its match-rate report, a transaction with its decision).

use diesel::prelude::*;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::EntryKind;
use crate::payments::model::PaymentMethod;
use crate::payments::requests::RemittanceLine;

crate::text_enum! {
    /// The formats a bank file may have.
    BankFileFormat {
        Bai2 => "bai2",
        Camt053 => "camt053",
        Camt054 => "camt054",
        NachaReturns => "nacha_returns",
        LockboxCsv => "lockbox_csv",
    }
}

crate::text_enum! {
    /// What became of a transaction: `matched` (a payment applied by a rule), `suggested`
    /// (a payment on the payer's account, unapplied: its amount fits more than one set of
    /// invoices), `unidentified` (no payer: in the suspense queue), `assigned` (settled by
    /// hand from the queue), `returned` (the payment it names was returned),
    /// `return_unmatched` (a return naming no payment it could return), `duplicate` (seen
    /// in an earlier file: nothing recorded), `ignored` (not customer cash).
    BankOutcome {
        Matched => "matched",
        Suggested => "suggested",
        Unidentified => "unidentified",
        Assigned => "assigned",
        Returned => "returned",
        ReturnUnmatched => "return_unmatched",
        Duplicate => "duplicate",
        Ignored => "ignored",
    }
}

crate::text_enum! {
    /// Which rule decided, in the order they are tried: `remittance` (invoices named in the
    /// file's remittance), `reference` (invoice numbers in the free text), `payer_invoice`
    /// (the payer's one open invoice of exactly the amount), `payer_invoice_set` (the one
    /// smallest set of its open invoices making the amount), `payer_ambiguous` (several sets
    /// make it), `payer_oldest_first` / `payer_unapplied` (the payer is known, the invoices
    /// are not: as configured), `manual` (assigned from the queue), `return`.
    MatchRule {
        Remittance => "remittance",
        Reference => "reference",
        PayerInvoice => "payer_invoice",
        PayerInvoiceSet => "payer_invoice_set",
        PayerAmbiguous => "payer_ambiguous",
        PayerOldestFirst => "payer_oldest_first",
        PayerUnapplied => "payer_unapplied",
        Manual => "manual",
        Return => "return",
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = crate::schema::bank_files)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct BankFileRow {
    pub id: Uuid,
    pub format: BankFileFormat,
    pub sha256: String,
    pub size_bytes: i32,
    pub transactions: i32,
    pub imported_by: String,
    pub imported_at: OffsetDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(
    table_name = crate::schema::bank_transactions,
    treat_none_as_null = true,
    treat_none_as_default_value = false
)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct BankTransactionRow {
    pub id: Uuid,
    pub file_id: Uuid,
    pub position: i32,
    pub location: String,
    pub identity: String,
    pub kind: EntryKind,
    pub amount: Decimal,
    pub currency: Option<String>,
    pub value_date: Option<Date>,
    pub method: PaymentMethod,
    pub bank_reference: Option<String>,
    pub payer_name: Option<String>,
    pub payer_account: Option<String>,
    pub text: String,
    pub remittance: serde_json::Value,
    pub returned_reference: Option<String>,
    pub return_code: Option<String>,
    pub raw: super::RawFields,
    pub outcome: BankOutcome,
    pub rule: Option<MatchRule>,
    pub confidence: Option<Decimal>,
    pub explanation: String,
    pub suggestions: serde_json::Value,
    pub account_id: Option<Uuid>,
    pub payment_id: Option<Uuid>,
    pub duplicate_of: Option<Uuid>,
    pub assigned_by: Option<String>,
    pub assigned_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
}

/// An invoice a suggestion proposes, with its balance when the suggestion was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SuggestedInvoice {
    pub invoice_id: Uuid,
    pub number: String,
    #[serde(with = "crate::money::decimal")]
    #[schema(value_type = crate::money::DecimalString)]
    pub balance_due: Decimal,
}

/// Who may have paid, which invoices, and why: ranked by `score` (0 to 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Suggestion {
    pub account_id: Uuid,
    pub account_number: String,
    pub account_name: String,
    pub invoices: Vec<SuggestedInvoice>,
    #[serde(with = "crate::money::decimal")]
    #[schema(value_type = crate::money::DecimalString, example = "0.60")]
    pub score: Decimal,
    pub reason: String,
}

/// An invoice the bank's remittance names.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RemittedView {
    pub invoice_number: String,
    #[serde(with = "crate::money::decimal_option", default)]
    #[schema(value_type = Option<crate::money::DecimalString>)]
    pub amount: Option<Decimal>,
}

/// A bank transaction as the file gave it, and what cash application made of it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BankTransactionView {
    pub id: Uuid,
    pub file_id: Uuid,
    /// Its place in the file (0-based) and where that is (`line 14`, an XML path).
    pub position: i32,
    pub location: String,
    /// The bank's identity of the transaction, the same in every file that reports it.
    pub identity: String,
    pub kind: EntryKind,
    #[serde(with = "crate::money::decimal")]
    #[schema(value_type = crate::money::DecimalString)]
    pub amount: Decimal,
    pub currency: Option<String>,
    pub value_date: Option<Date>,
    pub method: PaymentMethod,
    pub bank_reference: Option<String>,
    pub payer_name: Option<String>,
    pub payer_account: Option<String>,
    pub text: String,
    pub remittance: Vec<RemittedView>,
    pub returned_reference: Option<String>,
    pub return_code: Option<String>,
    /// The record's fields as the file has them.
    #[schema(value_type = Object)]
    pub raw: serde_json::Value,
    pub outcome: BankOutcome,
    pub rule: Option<MatchRule>,
    /// How sure the rule is, from 0 to 1.
    #[serde(with = "crate::money::decimal_option")]
    #[schema(value_type = Option<crate::money::DecimalString>, example = "0.95")]
    pub confidence: Option<Decimal>,
    /// What was found and decided, in words.
    pub explanation: String,
    pub suggestions: Vec<Suggestion>,
    pub account_id: Option<Uuid>,
    pub payment_id: Option<Uuid>,
    /// The first occurrence, when the transaction was seen before.
    pub duplicate_of: Option<Uuid>,
    pub assigned_by: Option<String>,
    pub assigned_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
}

impl From<BankTransactionRow> for BankTransactionView {
    fn from(r: BankTransactionRow) -> Self {
        BankTransactionView {
            id: r.id,
            file_id: r.file_id,
            position: r.position,
            location: r.location,
            identity: r.identity,
            kind: r.kind,
            amount: r.amount,
            currency: r.currency,
            value_date: r.value_date,
            method: r.method,
            bank_reference: r.bank_reference,
            payer_name: r.payer_name,
            payer_account: r.payer_account,
            text: r.text,
            remittance: serde_json::from_value(r.remittance).unwrap_or_default(),
            returned_reference: r.returned_reference,
            return_code: r.return_code,
            raw: r.raw.value(),
            outcome: r.outcome,
            rule: r.rule,
            confidence: r.confidence,
            explanation: r.explanation,
            suggestions: serde_json::from_value(r.suggestions).unwrap_or_default(),
            account_id: r.account_id,
            payment_id: r.payment_id,
            duplicate_of: r.duplicate_of,
            assigned_by: r.assigned_by,
            assigned_at: r.assigned_at,
            created_at: r.created_at,
        }
    }
}

impl crate::audit::Audited for BankTransactionView {
    const ENTITY: &'static str = "bank_transaction";
    fn entity_id(&self) -> Uuid {
        self.id
    }
    fn account_id(&self) -> Option<Uuid> {
        self.account_id
    }
}

/// One line of a file's match-rate report: how many transactions had this outcome by this
/// rule in this currency, and their amount.
#[derive(Debug, Clone, Serialize, ToSchema, Queryable)]
pub struct MatchRateRow {
    pub outcome: BankOutcome,
    pub rule: Option<MatchRule>,
    pub currency: Option<String>,
    pub count: i64,
    #[serde(with = "crate::money::decimal")]
    #[schema(value_type = crate::money::DecimalString)]
    pub amount: Decimal,
}

/// What cash application made of a file's credits: matched automatically (by any rule),
/// suggested, unidentified (and of those, assigned since), and the share matched
/// automatically of all credits, by count and by amount.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MatchRate {
    pub transactions: i64,
    pub credits: i64,
    pub matched: i64,
    pub suggested: i64,
    pub unidentified: i64,
    pub assigned: i64,
    pub returns: i64,
    pub returns_unmatched: i64,
    pub duplicates: i64,
    pub ignored: i64,
    /// matched ÷ credits (4 decimals; 0 without credits).
    #[serde(with = "crate::money::decimal")]
    #[schema(value_type = crate::money::DecimalString, example = "0.8500")]
    pub matched_share: Decimal,
    /// Amount matched ÷ amount of credits (4 decimals), for files of one currency; `null`
    /// when the credits are in several currencies.
    #[serde(with = "crate::money::decimal_option")]
    #[schema(value_type = Option<crate::money::DecimalString>, example = "0.9120")]
    pub matched_amount_share: Option<Decimal>,
    /// By outcome, rule and currency.
    pub rows: Vec<MatchRateRow>,
}

/// An imported bank file and its match-rate report.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BankFileView {
    pub id: Uuid,
    pub format: BankFileFormat,
    /// SHA-256 of the file as received (hex): the same file again is this import.
    pub sha256: String,
    pub size_bytes: i32,
    pub transactions: i32,
    pub imported_by: String,
    pub imported_at: OffsetDateTime,
    pub report: MatchRate,
}

impl crate::audit::Audited for BankFileView {
    const ENTITY: &'static str = "bank_file";
    fn entity_id(&self) -> Uuid {
        self.id
    }
    fn account_id(&self) -> Option<Uuid> {
        None
    }
}

/// How the file is named when the body's type does not say.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportParams {
    /// The file's format; needed unless `Content-Type` names it (`application/x-bai2`,
    /// `application/vnd.nacha`, `text/csv` for lockbox, `application/xml` or `text/xml` for
    /// camt, whose root tells 053 from 054).
    #[param(inline)]
    pub format: Option<BankFileFormat>,
}

/// Filters of a file's transactions.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TransactionFilter {
    #[param(inline)]
    pub outcome: Option<BankOutcome>,
}

/// Settles unidentified cash by hand: the account that paid, and how its payment is applied
/// (as for `POST /v1/payments`). The payer's bank account and name are learned for the
/// account, so that its next payment is identified.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"account_id": "0192f1d2-0000-7000-8000-000000000010", "application_mode": "auto"}))]
pub struct AssignPayment {
    pub account_id: Uuid,
    /// `remittance` (default when a remittance is given), `auto` (default otherwise) or
    /// `none`.
    pub application_mode: Option<crate::payments::model::ApplicationMode>,
    /// Which invoices it pays (up to 500 lines; each invoice once).
    pub remittance: Option<Vec<RemittanceLine>>,
    #[schema(max_length = 1000)]
    pub memo: Option<String>,
}
