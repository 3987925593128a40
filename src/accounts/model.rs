//! Account rows, the JSON shapes sent and received, and their conversions.

use diesel::prelude::*;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::money::Currency;
use crate::validate::double_option;

crate::text_enum! {
    /// Lifecycle of an account.
    AccountStatus { Active => "active", Suspended => "suspended", Terminated => "terminated", Closed => "closed" }
}

crate::text_enum! {
    /// Credit standing set by credit analysts; `hold` blocks new contracts and upgrades.
    CreditStatus { Good => "good", Watch => "watch", Hold => "hold" }
}

crate::text_enum! {
    RiskLevel { Low => "low", Medium => "medium", High => "high", Critical => "critical" }
}

crate::text_enum! {
    /// Where the account stands in collections.
    CollectionsStatus {
        None => "none",
        InDunning => "in_dunning",
        Promised => "promised",
        WithAgency => "with_agency",
        WrittenOff => "written_off",
    }
}

crate::text_enum! {
    /// Whose credit the account uses: its own limit, reviews and holds, or its parent's (then
    /// exposure, reviews and holds work on the parent's whole credit family).
    CreditScope { Own => "own", Parent => "parent" }
}

crate::text_enum! {
    AutopayMethod { Ach => "ach", Card => "card" }
}

crate::text_enum! {
    /// How invoices reach the customer.
    PresentmentChannel { Email => "email", Mail => "mail", Portal => "portal" }
}

crate::text_enum! {
    /// One invoice for all contracts, or one per contract.
    InvoiceGrouping { Consolidated => "consolidated", PerContract => "per_contract" }
}

/// A postal address.
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
#[schema(example = json!({"line1": "100 Main St", "city": "Springfield", "region": "IL", "postal_code": "62701", "country": "US"}))]
pub struct Address {
    #[schema(max_length = 200)]
    pub line1: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 200)]
    pub line2: Option<String>,
    #[schema(max_length = 100)]
    pub city: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 100)]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 20)]
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2 country code.
    pub country: String,
}
crate::jsonb_column!(Address);

/// A reference the customer wants printed on invoices (cost centre, project, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReferenceField {
    #[schema(max_length = 64, example = "Cost center")]
    pub name: String,
    /// The value printed on every invoice; a required field without one must be given per invoice.
    #[serde(default)]
    #[schema(max_length = 200, example = "CC-4410")]
    pub value: Option<String>,
    /// Invoices cannot be issued without this reference.
    #[serde(default)]
    pub required: bool,
}

/// How the customer wants invoices presented.
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
pub struct Presentment {
    #[serde(default = "default_channel")]
    pub channel: PresentmentChannel,
    /// Invoices cannot be issued without a PO number.
    #[serde(default)]
    pub po_number_required: bool,
    /// Standing PO number printed on invoices.
    #[serde(default)]
    #[schema(max_length = 64)]
    pub po_number: Option<String>,
    #[serde(default)]
    pub reference_fields: Vec<ReferenceField>,
    #[serde(default = "default_grouping")]
    pub invoice_grouping: InvoiceGrouping,
}
crate::jsonb_column!(Presentment);

fn default_channel() -> PresentmentChannel {
    PresentmentChannel::Email
}

fn default_grouping() -> InvoiceGrouping {
    InvoiceGrouping::Consolidated
}

impl Default for Presentment {
    fn default() -> Self {
        Presentment {
            channel: default_channel(),
            po_number_required: false,
            po_number: None,
            reference_fields: Vec::new(),
            invoice_grouping: default_grouping(),
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = crate::schema::accounts, treat_none_as_null = true)]
pub struct AccountRow {
    pub id: Uuid,
    pub number: String,
    pub legal_name: String,
    pub currency: Currency,
    pub payment_terms_days: i32,
    pub tax_exempt: bool,
    pub tax_exemption_number: Option<String>,
    pub tax_rate: Option<Decimal>,
    pub credit_limit: Option<Decimal>,
    pub credit_status: CreditStatus,
    pub risk_level: RiskLevel,
    pub status: AccountStatus,
    pub collections_status: CollectionsStatus,
    pub partner_id: Option<Uuid>,
    pub autopay_enabled: bool,
    pub autopay_method: Option<AutopayMethod>,
    pub billing_address: Address,
    pub presentment: Presentment,
    pub external_crm_id: Option<String>,
    pub version: i32,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub closed_at: Option<OffsetDateTime>,
    pub parent_id: Option<Uuid>,
    pub credit_scope: CreditScope,
}

/// A customer account.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountView {
    pub id: Uuid,
    #[schema(example = "ACC-000042")]
    pub number: String,
    #[schema(example = "Acme Manufacturing Inc.")]
    pub legal_name: String,
    #[schema(example = "USD")]
    pub currency: Currency,
    /// Net days from invoice date to due date.
    #[schema(example = 30)]
    pub payment_terms_days: i32,
    pub tax_exempt: bool,
    pub tax_exemption_number: Option<String>,
    /// Sales-tax rate in percent, e.g. `"8.2500"`.
    #[serde(with = "crate::money::decimal_option")]
    #[schema(value_type = Option<crate::money::DecimalString>, example = "8.2500")]
    pub tax_rate: Option<Decimal>,
    /// Credit limit in the account's currency.
    #[serde(with = "crate::money::decimal_option")]
    #[schema(value_type = Option<crate::money::DecimalString>, example = "25000.00")]
    pub credit_limit: Option<Decimal>,
    pub credit_status: CreditStatus,
    pub risk_level: RiskLevel,
    pub status: AccountStatus,
    pub collections_status: CollectionsStatus,
    pub partner_id: Option<Uuid>,
    pub autopay_enabled: bool,
    pub autopay_method: Option<AutopayMethod>,
    pub billing_address: Address,
    pub presentment: Presentment,
    pub external_crm_id: Option<String>,
    /// Optimistic-concurrency version; also sent as the ETag.
    pub version: i32,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub closed_at: Option<OffsetDateTime>,
    /// The account this one sits under (a head office over its sites), same currency.
    pub parent_id: Option<Uuid>,
    pub credit_scope: CreditScope,
    /// What the account owes, from the ledger (on `GET /v1/accounts/{id}` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub balance: Option<crate::ledger::model::BalanceSummary>,
    /// Payments received and returned (on `GET /v1/accounts/{id}` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_history: Option<crate::payments::model::PaymentHistory>,
}

impl From<AccountRow> for AccountView {
    fn from(r: AccountRow) -> Self {
        let currency = r.currency;
        let money = |d: Option<Decimal>| d.map(|d| currency.normalize(d));
        AccountView {
            id: r.id,
            number: r.number,
            legal_name: r.legal_name,
            currency,
            payment_terms_days: r.payment_terms_days,
            tax_exempt: r.tax_exempt,
            tax_exemption_number: r.tax_exemption_number,
            tax_rate: r.tax_rate.map(|mut t| {
                t.rescale(4);
                t
            }),
            credit_limit: money(r.credit_limit),
            credit_status: r.credit_status,
            risk_level: r.risk_level,
            status: r.status,
            collections_status: r.collections_status,
            partner_id: r.partner_id,
            autopay_enabled: r.autopay_enabled,
            autopay_method: r.autopay_method,
            billing_address: r.billing_address,
            presentment: r.presentment,
            external_crm_id: r.external_crm_id,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
            closed_at: r.closed_at,
            parent_id: r.parent_id,
            credit_scope: r.credit_scope,
            balance: None,
            payment_history: None,
        }
    }
}

fn thirty() -> i32 {
    30
}

/// A new account. Money and rates are decimal strings.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "legal_name": "Acme Manufacturing Inc.",
    "currency": "USD",
    "payment_terms_days": 30,
    "tax_rate": "8.25",
    "billing_address": {"line1": "100 Main St", "city": "Springfield", "region": "IL", "postal_code": "62701", "country": "US"},
    "presentment": {"channel": "email", "po_number_required": true, "po_number": "PO-7781"}
}))]
pub struct NewAccount {
    /// Leave out to get the next `ACC-000001`-style number.
    #[schema(pattern = "^[A-Z0-9][A-Z0-9._-]*$", min_length = 1, max_length = 32)]
    pub number: Option<String>,
    #[schema(max_length = 200)]
    pub legal_name: String,
    /// ISO 4217 code of a supported currency.
    #[schema(value_type = crate::money::Currency)]
    pub currency: String,
    #[serde(default = "thirty")]
    pub payment_terms_days: i32,
    #[serde(default)]
    pub tax_exempt: bool,
    /// Exemption certificate number; required when `tax_exempt`.
    #[schema(max_length = 64)]
    pub tax_exemption_number: Option<String>,
    /// Percent, at most 4 decimals, 0 to 100.
    #[serde(default, with = "crate::money::decimal_option")]
    #[schema(value_type = Option<crate::money::DecimalString>, example = "8.25")]
    pub tax_rate: Option<Decimal>,
    /// Needs the `accounts:credit` permission.
    #[serde(default, with = "crate::money::decimal_option")]
    #[schema(value_type = Option<crate::money::DecimalString>, example = "25000.00")]
    pub credit_limit: Option<Decimal>,
    /// Needs the `accounts:credit` permission unless `good`.
    pub credit_status: Option<CreditStatus>,
    /// Needs the `accounts:credit` permission unless `low`.
    pub risk_level: Option<RiskLevel>,
    pub partner_id: Option<Uuid>,
    #[serde(default)]
    pub autopay_enabled: bool,
    pub autopay_method: Option<AutopayMethod>,
    pub billing_address: Address,
    #[serde(default)]
    pub presentment: Presentment,
    /// The account's id in the CRM; unique.
    #[schema(max_length = 100)]
    pub external_crm_id: Option<String>,
    /// The account to sit under: open, same currency, at most five levels in all.
    pub parent_id: Option<Uuid>,
    /// `parent` (needs a parent and the `accounts:credit` permission) to use the parent's
    /// credit; default `own`.
    pub credit_scope: Option<CreditScope>,
}

/// Changes to an account. Absent fields stay; `null` clears an optional field.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"payment_terms_days": 45, "version": 3}))]
pub struct AccountPatch {
    #[schema(max_length = 200)]
    pub legal_name: Option<String>,
    pub payment_terms_days: Option<i32>,
    pub tax_exempt: Option<bool>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(max_length = 64, value_type = Option<String>)]
    pub tax_exemption_number: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option_decimal")]
    #[schema(value_type = Option<crate::money::DecimalString>)]
    pub tax_rate: Option<Option<Decimal>>,
    /// Needs `accounts:credit`.
    #[serde(default, deserialize_with = "double_option_decimal")]
    #[schema(value_type = Option<crate::money::DecimalString>)]
    pub credit_limit: Option<Option<Decimal>>,
    /// Needs `accounts:credit`.
    pub credit_status: Option<CreditStatus>,
    /// Needs `accounts:credit`.
    pub risk_level: Option<RiskLevel>,
    /// Needs `accounts:collections`.
    pub collections_status: Option<CollectionsStatus>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub partner_id: Option<Option<Uuid>>,
    pub autopay_enabled: Option<bool>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<AutopayMethod>)]
    pub autopay_method: Option<Option<AutopayMethod>>,
    pub billing_address: Option<Address>,
    pub presentment: Option<Presentment>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(max_length = 100, value_type = Option<String>)]
    pub external_crm_id: Option<Option<String>>,
    /// The account to sit under (`null`: none). Open, same currency, not the account itself
    /// or one under it, at most five levels in all.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub parent_id: Option<Option<Uuid>>,
    /// Needs `accounts:credit`; `parent` needs a parent.
    pub credit_scope: Option<CreditScope>,
    /// The version being changed (or send `If-Match`).
    pub version: Option<i32>,
}

fn double_option_decimal<'de, D: serde::Deserializer<'de>>(
    de: D,
) -> Result<Option<Option<Decimal>>, D::Error> {
    crate::money::decimal_option::deserialize(de).map(Some)
}

/// Why an account is closed.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "Customer moved all equipment to another provider", "version": 4}))]
pub struct CloseAccount {
    #[schema(max_length = 500)]
    pub reason: String,
    /// The version being closed (or send `If-Match`; neither closes whatever the version).
    pub version: Option<i32>,
}

/// Filters of the account list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AccountFilter {
    pub status: Option<AccountStatus>,
    pub partner_id: Option<Uuid>,
    pub collections_status: Option<CollectionsStatus>,
    pub credit_status: Option<CreditStatus>,
    /// Text found in the account's number or legal name (case-insensitive).
    #[param(example = "acme")]
    pub q: Option<String>,
    pub external_crm_id: Option<String>,
}
