//! CRM events as stored and shown, the envelope a CRM posts, and the `data` of each type.

use diesel::prelude::*;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::accounts::model::{Address, AutopayMethod, Presentment};
use crate::contracts::model::{
    BillingFrequency, BillingTiming, ContractKind, NewCharge, PlanChange, PriceChange,
};
use crate::validate::double_option;

crate::text_enum! {
    /// What processing did with an event: `processed` (its effect is written), `failed` (a
    /// rule refused it; nothing of it is written; it may be retried), `ignored` (an event
    /// about the same record that occurred later was already processed).
    EventStatus { Processed => "processed", Failed => "failed", Ignored => "ignored" }
}

crate::text_enum! {
    /// The event types the service acts on.
    EventType {
        AccountUpserted => "account.upserted",
        ContractSigned => "contract.signed",
        ContractUpgraded => "contract.upgraded",
        ContractRenewed => "contract.renewed",
        ContractOwnershipChanged => "contract.ownership_changed",
        ContractTerminated => "contract.terminated",
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = crate::schema::crm_events, primary_key(source, id), treat_none_as_null = true)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct CrmEventRow {
    pub source: String,
    pub id: String,
    pub type_: String,
    pub occurred_at: Option<OffsetDateTime>,
    pub subject: Option<String>,
    pub raw_body: Vec<u8>,
    pub signature_secret: i32,
    pub signed_at: OffsetDateTime,
    pub status: EventStatus,
    pub failure_code: Option<String>,
    pub failure_reason: Option<String>,
    pub result: Option<serde_json::Value>,
    pub attempts: i32,
    pub received_at: OffsetDateTime,
    pub processed_at: OffsetDateTime,
}

/// An event a CRM posted and what processing made of it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "source": "hubspot", "id": "evt_1001", "type": "account.upserted",
    "occurred_at": "2026-11-25T11:58:00Z", "subject": "account:C-1001", "status": "processed",
    "failure_code": null, "failure_reason": null,
    "result": {"account_id": "0192f1d2-0000-7000-8000-000000000010", "created": true},
    "attempts": 1, "signature_secret": 0, "signed_at": "2026-11-25T11:59:58Z",
    "received_at": "2026-11-25T12:00:00Z", "processed_at": "2026-11-25T12:00:00Z"
}))]
pub struct CrmEventView {
    /// The CRM that sent it (named by the secret that verified its signature).
    pub source: String,
    /// The CRM's id of the event.
    pub id: String,
    #[serde(rename = "type")]
    pub type_: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub occurred_at: Option<OffsetDateTime>,
    /// The record it is about: `account:<crm id>` or `contract:<crm id>`.
    pub subject: Option<String>,
    pub status: EventStatus,
    /// Why it failed: the code of the refusal (`unknown_type`, `unknown_account`,
    /// `validation_failed`, `credit_hold`, ...).
    pub failure_code: Option<String>,
    /// Why it failed, for a person (with the fields of `data` concerned).
    pub failure_reason: Option<String>,
    /// What it made or changed (`account_id`, `contract_id`, `amendment_id`,
    /// `service_order_id`), or for an ignored event the later event that wins.
    #[schema(value_type = Option<Object>)]
    pub result: Option<serde_json::Value>,
    /// Times it was processed: 1, and one more per retry.
    pub attempts: i32,
    /// Which of the source's configured secrets verified the signature (0 = the first).
    pub signature_secret: i32,
    /// The signature's timestamp.
    #[serde(with = "time::serde::rfc3339")]
    pub signed_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub received_at: OffsetDateTime,
    /// When it was last processed.
    #[serde(with = "time::serde::rfc3339")]
    pub processed_at: OffsetDateTime,
}

impl From<CrmEventRow> for CrmEventView {
    fn from(r: CrmEventRow) -> Self {
        CrmEventView {
            source: r.source,
            id: r.id,
            type_: r.type_,
            occurred_at: r.occurred_at,
            subject: r.subject,
            status: r.status,
            failure_code: r.failure_code,
            failure_reason: r.failure_reason,
            result: r.result,
            attempts: r.attempts,
            signature_secret: r.signature_secret,
            signed_at: r.signed_at,
            received_at: r.received_at,
            processed_at: r.processed_at,
        }
    }
}

/// One event, as a CRM posts it (signed: see `Receivables-Signature`). `data` depends on the
/// type (README, "CRM events"); an unknown type is stored as failed.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "id": "evt_1001", "type": "account.upserted", "occurred_at": "2026-11-25T11:58:00Z",
    "data": {"crm_id": "C-1001", "legal_name": "Acme Manufacturing Inc.", "currency": "USD",
             "billing_address": {"line1": "100 Main St", "city": "Springfield", "country": "US"}}
}))]
pub struct CrmEvent {
    /// The CRM's id of the event, unique per source: a repeat answers the first result.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[!-~]+$",
        example = "evt_1001"
    )]
    pub id: String,
    /// `account.upserted`, `contract.signed`, `contract.upgraded`, `contract.renewed`,
    /// `contract.ownership_changed` or `contract.terminated`.
    #[serde(rename = "type")]
    #[schema(min_length = 1, max_length = 100, example = "account.upserted")]
    pub type_: String,
    /// When the change happened in the CRM: of two events about one record, the earlier
    /// one never overwrites the later.
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    /// The type's fields; `crm_id` names the record.
    #[serde(default = "empty_object")]
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(Default::default())
}

/// Filters of the event list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CrmEventFilter {
    pub status: Option<EventStatus>,
    /// Only events of this source.
    pub source: Option<String>,
}

fn double_option_decimal<'de, D: serde::Deserializer<'de>>(
    de: D,
) -> Result<Option<Option<Decimal>>, D::Error> {
    crate::money::decimal_option::deserialize(de).map(Some)
}

/// `account.upserted`: the account the CRM knows as `crm_id`, opened when new (then
/// `legal_name`, `currency` and `billing_address` are required), else changed in the fields
/// given (absent fields stay, `null` clears an optional one; the currency cannot change).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountData {
    pub crm_id: String,
    pub legal_name: Option<String>,
    pub currency: Option<String>,
    pub payment_terms_days: Option<i32>,
    pub tax_exempt: Option<bool>,
    #[serde(default, deserialize_with = "double_option")]
    pub tax_exemption_number: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option_decimal")]
    pub tax_rate: Option<Option<Decimal>>,
    #[serde(default, deserialize_with = "double_option")]
    pub partner_id: Option<Option<Uuid>>,
    pub autopay_enabled: Option<bool>,
    #[serde(default, deserialize_with = "double_option")]
    pub autopay_method: Option<Option<AutopayMethod>>,
    pub billing_address: Option<Address>,
    pub presentment: Option<Presentment>,
}

/// `contract.signed`: a new contract of the account `account_crm_id`, created and activated;
/// the fields of `POST /v1/contracts`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContractSignedData {
    pub crm_id: String,
    pub account_crm_id: String,
    pub kind: ContractKind,
    pub start_date: Date,
    pub end_date: Option<Date>,
    pub billing_frequency: Option<BillingFrequency>,
    pub anchor_day: Option<i16>,
    pub anchor_month: Option<i16>,
    pub billing_timing: Option<BillingTiming>,
    pub payment_terms_days: Option<i32>,
    pub description: Option<String>,
    pub external_reference: Option<String>,
    #[serde(default)]
    pub charges: Vec<NewCharge>,
}

/// `contract.upgraded`: an upgrade amendment (charges added and ended, meter plans).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContractUpgradedData {
    pub crm_id: String,
    pub effective_date: Date,
    pub note: Option<String>,
    #[serde(default)]
    pub charges: Vec<NewCharge>,
    #[serde(default)]
    pub end_charge_ids: Vec<Uuid>,
    #[serde(default)]
    pub meter_plans: Vec<PlanChange>,
}

/// `contract.renewed`: a renewal amendment (a new end date, optional new prices).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContractRenewedData {
    pub crm_id: String,
    pub effective_date: Date,
    pub end_date: Date,
    pub note: Option<String>,
    #[serde(default)]
    pub prices: Vec<PriceChange>,
}

/// `contract.ownership_changed`: the contract moves to the account `account_crm_id`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OwnershipChangedData {
    pub crm_id: String,
    pub account_crm_id: String,
    pub effective_date: Date,
    pub note: Option<String>,
}

/// `contract.terminated`: a termination amendment (the effective date is the last billed
/// day), and the pick-up of the contract's equipment.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TerminatedData {
    pub crm_id: String,
    pub effective_date: Date,
    pub note: Option<String>,
}
