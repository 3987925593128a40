//! The rules of CRM events as plain functions: the envelope's checks, the record an event is
//! about, the out-of-order rule, and how each type's `data` becomes the request the domain's
//! service takes.

use time::OffsetDateTime;
use uuid::Uuid;

use super::model::{
    AccountData, ContractRenewedData, ContractSignedData, ContractUpgradedData, CrmEvent,
    EventStatus, EventType, OwnershipChangedData, TerminatedData,
};
use super::settings::CrmSettings;
use crate::accounts::model::{AccountPatch, NewAccount};
use crate::contracts::model::{AmendmentKind, NewAmendment};
use crate::contracts::requests::NewContract;
use crate::money::Currency;
use crate::refusal::{FieldError, Refusal};
use crate::signature::{self, Refused};
use crate::validate::Errors;

/// Who signed an event: the source whose secret matched, which of its secrets (0 = the first
/// listed), and when it was signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    pub source: String,
    pub secret: i32,
    pub signed_at: OffsetDateTime,
}

/// Verifies `header` over the raw `body` against the secrets of every configured source, at
/// `now`: the secret that matches names the source.
pub fn signer(
    settings: &CrmSettings,
    header: Option<&str>,
    body: &[u8],
    now: OffsetDateTime,
) -> Result<Signer, Refused> {
    let all = settings.all_secrets();
    let secrets: Vec<&[u8]> = all.iter().map(|(_, _, secret)| *secret).collect();
    let verified = signature::verify(header, body, &secrets, now.unix_timestamp())?;
    let (source, index, _) = all[verified.secret];
    Ok(Signer {
        source: source.to_string(),
        secret: index as i32,
        signed_at: OffsetDateTime::from_unix_timestamp(verified.t).unwrap_or(now),
    })
}

/// The problem `code` of a refused signature.
pub fn refused_code(refused: Refused) -> &'static str {
    match refused {
        Refused::Missing => "missing_signature",
        Refused::Malformed => "malformed_signature",
        Refused::Stale => "stale_signature",
        Refused::Mismatch => "invalid_signature",
    }
}

/// The envelope's own checks (its fields' presence and types are serde's): an id of 1–200
/// visible ASCII characters, a type of 1–100 characters, `data` an object, and an
/// `occurred_at` not later than the signature window after `now` (an event dated in the
/// future would make every real change to its record look older, and be ignored).
pub fn check_envelope(event: &CrmEvent, now: OffsetDateTime) -> Result<(), Refusal> {
    let mut e = Errors::default();
    if !(1..=200).contains(&event.id.len()) || !event.id.bytes().all(|b| b.is_ascii_graphic()) {
        e.add("id", "invalid", "must be 1 to 200 visible ASCII characters");
    }
    e.text("type", &event.type_, 100);
    if event.occurred_at > now + time::Duration::seconds(signature::TOLERANCE_SECONDS) {
        e.add(
            "occurred_at",
            "out_of_range",
            "must not be more than 5 minutes after the service's clock",
        );
    }
    if !event.data.is_object() {
        e.add("data", "invalid_type", "must be a JSON object");
    }
    e.finish()
}

/// The record an event is about (`account:<crm id>`, `contract:<crm id>`), from its
/// `data.crm_id`; none for an unknown type or without a usable `crm_id`.
pub fn subject(kind: Option<EventType>, data: &serde_json::Value) -> Option<String> {
    let crm_id = data
        .get("crm_id")?
        .as_str()
        .filter(|s| !s.trim().is_empty())?;
    let prefix = match kind? {
        EventType::AccountUpserted => "account",
        _ => "contract",
    };
    Some(format!("{prefix}:{crm_id}"))
}

/// Whether an event occurred before the latest one already processed about its record:
/// applying it would roll the record back, so it is ignored.
pub fn is_out_of_order(occurred_at: OffsetDateTime, latest: Option<OffsetDateTime>) -> bool {
    latest.is_some_and(|latest| occurred_at < latest)
}

/// Field errors of `data`, named as in the event (`data.legal_name`).
pub fn in_data(errors: Vec<FieldError>) -> Vec<FieldError> {
    errors
        .into_iter()
        .map(|mut e| {
            if !e.field.starts_with("data") {
                e.field = if e.field == "body" {
                    "data".to_string()
                } else {
                    format!("data.{}", e.field)
                };
            }
            e
        })
        .collect()
}

/// A failure's reason from field errors: `data.legal_name: is required; ...`.
pub fn reason_of(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The CRM id of a record: 1–100 visible characters.
fn check_crm_id(field: &str, value: &str, e: &mut Errors) {
    e.text(field, value, 100);
}

/// A new account from `account.upserted` (none with its CRM id exists yet): the fields of
/// `POST /v1/accounts`, of which `legal_name`, `currency` and `billing_address` are needed.
pub fn new_account(data: AccountData) -> Result<NewAccount, Refusal> {
    let mut e = Errors::default();
    check_crm_id("crm_id", &data.crm_id, &mut e);
    for (field, missing) in [
        ("legal_name", data.legal_name.is_none()),
        ("currency", data.currency.is_none()),
        ("billing_address", data.billing_address.is_none()),
    ] {
        if missing {
            e.add(field, "required", "is required to open the account");
        }
    }
    e.finish()?;
    Ok(NewAccount {
        number: None,
        legal_name: data.legal_name.unwrap_or_default(),
        currency: data.currency.unwrap_or_default(),
        payment_terms_days: data.payment_terms_days.unwrap_or(30),
        tax_exempt: data.tax_exempt.unwrap_or(false),
        tax_exemption_number: data.tax_exemption_number.flatten(),
        tax_rate: data.tax_rate.flatten(),
        credit_limit: None,
        credit_status: None,
        risk_level: None,
        partner_id: data.partner_id.flatten(),
        autopay_enabled: data.autopay_enabled.unwrap_or(false),
        autopay_method: data.autopay_method.flatten(),
        billing_address: data.billing_address.expect("checked"),
        presentment: data.presentment.unwrap_or_default(),
        external_crm_id: Some(data.crm_id),
        parent_id: None,
        credit_scope: None,
    })
}

/// The change `account.upserted` makes to the account it names: the fields given (the
/// currency only as it is). `None` when it names nothing to change.
pub fn account_patch(
    data: AccountData,
    currency: Currency,
) -> Result<Option<AccountPatch>, Refusal> {
    if let Some(given) = &data.currency {
        if Currency::parse(given) != Some(currency) {
            return Err(Refusal::field(
                "currency",
                "unchangeable",
                format!("the account bills in {currency}; its currency cannot change"),
            ));
        }
    }
    let patch = AccountPatch {
        legal_name: data.legal_name,
        payment_terms_days: data.payment_terms_days,
        tax_exempt: data.tax_exempt,
        tax_exemption_number: data.tax_exemption_number,
        tax_rate: data.tax_rate,
        partner_id: data.partner_id,
        autopay_enabled: data.autopay_enabled,
        autopay_method: data.autopay_method,
        billing_address: data.billing_address,
        presentment: data.presentment,
        ..Default::default()
    };
    Ok((!patch.required_permissions().is_empty()).then_some(patch))
}

/// The contract `contract.signed` creates, for the account found by its CRM id.
pub fn new_contract(data: ContractSignedData, account_id: Uuid) -> Result<NewContract, Refusal> {
    let mut e = Errors::default();
    check_crm_id("crm_id", &data.crm_id, &mut e);
    e.finish()?;
    Ok(NewContract {
        account_id,
        kind: data.kind,
        start_date: data.start_date,
        end_date: data.end_date,
        billing_frequency: data.billing_frequency,
        anchor_day: data.anchor_day,
        anchor_month: data.anchor_month,
        billing_timing: data.billing_timing,
        payment_terms_days: data.payment_terms_days,
        description: data.description,
        external_reference: data.external_reference,
        charges: data.charges,
    })
}

fn amendment(
    kind: AmendmentKind,
    effective_date: time::Date,
    note: Option<String>,
) -> NewAmendment {
    NewAmendment {
        kind,
        effective_date,
        note,
        charges: Vec::new(),
        end_charge_ids: Vec::new(),
        meter_plans: Vec::new(),
        end_date: None,
        prices: Vec::new(),
        account_id: None,
        version: None,
    }
}

fn check_note(note: Option<&str>) -> Result<(), Refusal> {
    let mut e = Errors::default();
    e.optional_text("note", note, 2000);
    e.finish()
}

/// `contract.upgraded` as the upgrade amendment of `POST /v1/contracts/{id}/amendments`: it
/// adds charges, ends charges or changes meter plans.
pub fn upgrade(data: ContractUpgradedData) -> Result<NewAmendment, Refusal> {
    check_note(data.note.as_deref())?;
    if data.charges.is_empty() && data.end_charge_ids.is_empty() && data.meter_plans.is_empty() {
        return Err(Refusal::field(
            "charges",
            "required",
            "an upgrade adds charges, ends charges or changes meter plans",
        ));
    }
    Ok(NewAmendment {
        charges: data.charges,
        end_charge_ids: data.end_charge_ids,
        meter_plans: data.meter_plans,
        ..amendment(AmendmentKind::Upgrade, data.effective_date, data.note)
    })
}

/// `contract.renewed` as a renewal amendment: a new end date, optional new prices.
pub fn renewal(data: ContractRenewedData) -> Result<NewAmendment, Refusal> {
    check_note(data.note.as_deref())?;
    Ok(NewAmendment {
        end_date: Some(data.end_date),
        prices: data.prices,
        ..amendment(AmendmentKind::Renewal, data.effective_date, data.note)
    })
}

/// `contract.ownership_changed` as an ownership change to the account found by its CRM id.
pub fn ownership_change(
    data: OwnershipChangedData,
    account_id: Uuid,
) -> Result<NewAmendment, Refusal> {
    check_note(data.note.as_deref())?;
    Ok(NewAmendment {
        account_id: Some(account_id),
        ..amendment(
            AmendmentKind::OwnershipChange,
            data.effective_date,
            data.note,
        )
    })
}

/// `contract.terminated` as a termination amendment.
pub fn termination(data: TerminatedData) -> Result<NewAmendment, Refusal> {
    check_note(data.note.as_deref())?;
    Ok(amendment(
        AmendmentKind::Termination,
        data.effective_date,
        data.note,
    ))
}

/// Only a failed event is processed again.
pub fn check_retry(status: EventStatus) -> Result<(), Refusal> {
    if status == EventStatus::Failed {
        return Ok(());
    }
    Err(Refusal::conflict(
        "event_not_failed",
        format!(
            "Only a failed event is retried; this one is {}.",
            status.as_str()
        ),
    ))
}

/// An account the CRM names that the service does not know.
pub fn unknown_account(crm_id: &str) -> Refusal {
    Refusal::conflict(
        "unknown_account",
        format!("no account has the CRM id {crm_id:?}; send its account.upserted first"),
    )
}

/// A contract the CRM names that the service does not know.
pub fn unknown_contract(crm_id: &str) -> Refusal {
    Refusal::conflict(
        "unknown_contract",
        format!("no contract has the CRM id {crm_id:?}; send its contract.signed first"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::datetime;

    fn event(id: &str, type_: &str, data: serde_json::Value) -> CrmEvent {
        CrmEvent {
            id: id.into(),
            type_: type_.into(),
            occurred_at: datetime!(2026-11-25 12:00 UTC),
            data,
        }
    }

    fn fields(refusal: Refusal) -> Vec<(String, String)> {
        match refusal {
            Refusal::Invalid(errors) => errors.into_iter().map(|e| (e.field, e.code)).collect(),
            other => panic!("not a field refusal: {other:?}"),
        }
    }

    fn account_data(value: serde_json::Value) -> AccountData {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn the_matching_secret_names_the_source_and_its_index() {
        let settings = super::super::settings::parse(
            "a:secret-of-a-0123456789,b:old-secret-of-b-0123,b:new-secret-of-b-0123",
        )
        .unwrap();
        let now = datetime!(2026-11-25 12:00 UTC);
        let t = now.unix_timestamp() - 60;
        let body = br#"{"id":"evt_1"}"#;
        let header = signature::header([b"new-secret-of-b-0123".as_slice()], t, body);
        assert_eq!(
            signer(&settings, Some(&header), body, now),
            Ok(Signer {
                source: "b".into(),
                secret: 1,
                signed_at: now - time::Duration::seconds(60)
            })
        );
        let header = signature::header([b"secret-of-a-0123456789".as_slice()], t, body);
        assert_eq!(
            signer(&settings, Some(&header), body, now).unwrap().source,
            "a"
        );
        let stale = signature::header([b"secret-of-a-0123456789".as_slice()], t - 300, body);
        assert_eq!(
            signer(&settings, Some(&stale), body, now),
            Err(Refused::Stale)
        );
        let other = signature::header([b"unknown-secret-000000".as_slice()], t, body);
        assert_eq!(
            signer(&settings, Some(&other), body, now),
            Err(Refused::Mismatch)
        );
        assert_eq!(
            signer(&CrmSettings::default(), Some(&header), body, now),
            Err(Refused::Mismatch),
            "no source configured: nothing verifies"
        );
        assert_eq!(refused_code(Refused::Missing), "missing_signature");
    }

    #[test]
    fn only_failed_events_are_retried() {
        assert!(check_retry(EventStatus::Failed).is_ok());
        for status in [EventStatus::Processed, EventStatus::Ignored] {
            assert_eq!(check_retry(status).unwrap_err().code(), "event_not_failed");
        }
    }

    #[test]
    fn an_envelope_needs_a_usable_id_and_type_and_an_object_of_data() {
        let now = datetime!(2026-11-25 12:00 UTC);
        assert!(check_envelope(&event("evt_1", "account.upserted", json!({})), now).is_ok());
        let refused = check_envelope(&event("evt 1", " ", json!([1])), now);
        assert_eq!(
            fields(refused.unwrap_err()),
            vec![
                ("id".into(), "invalid".into()),
                ("type".into(), "required".into()),
                ("data".into(), "invalid_type".into())
            ]
        );
        assert!(check_envelope(&event(&"x".repeat(201), "t", json!({})), now).is_err());
        let early = now - time::Duration::seconds(301);
        assert!(check_envelope(
            &event("e", "t", json!({})),
            early + time::Duration::seconds(2)
        )
        .is_ok());
        assert_eq!(
            fields(check_envelope(&event("e", "t", json!({})), early).unwrap_err()),
            vec![("occurred_at".into(), "out_of_range".into())]
        );
    }

    #[test]
    fn the_subject_is_the_record_named_by_crm_id() {
        let data = json!({"crm_id": "C-1"});
        assert_eq!(
            subject(Some(EventType::AccountUpserted), &data).as_deref(),
            Some("account:C-1")
        );
        for kind in [
            EventType::ContractSigned,
            EventType::ContractUpgraded,
            EventType::ContractRenewed,
            EventType::ContractOwnershipChanged,
            EventType::ContractTerminated,
        ] {
            assert_eq!(subject(Some(kind), &data).as_deref(), Some("contract:C-1"));
        }
        assert_eq!(subject(None, &data), None);
        assert_eq!(
            subject(Some(EventType::ContractSigned), &json!({"crm_id": 7})),
            None
        );
        assert_eq!(
            subject(Some(EventType::ContractSigned), &json!({"crm_id": " "})),
            None
        );
    }

    #[test]
    fn only_an_event_older_than_the_latest_processed_is_out_of_order() {
        let at = datetime!(2026-11-25 12:00 UTC);
        assert!(!is_out_of_order(at, None));
        assert!(!is_out_of_order(at, Some(at)));
        assert!(!is_out_of_order(at, Some(at - time::Duration::seconds(1))));
        assert!(is_out_of_order(at, Some(at + time::Duration::seconds(1))));
    }

    #[test]
    fn data_errors_are_named_inside_data() {
        let errors = in_data(vec![
            FieldError::new("legal_name", "required", "is required"),
            FieldError::new("body", "invalid_type", "must be an object"),
            FieldError::new("data.crm_id", "required", "is required"),
        ]);
        let named: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(named, vec!["data.legal_name", "data", "data.crm_id"]);
        assert_eq!(reason_of(&errors[..1]), "data.legal_name: is required");
    }

    #[test]
    fn a_new_account_needs_its_name_currency_and_address() {
        let refused = new_account(account_data(json!({"crm_id": "C-1"}))).unwrap_err();
        assert_eq!(
            fields(refused),
            vec![
                ("legal_name".into(), "required".into()),
                ("currency".into(), "required".into()),
                ("billing_address".into(), "required".into())
            ]
        );
        let new = new_account(account_data(json!({"crm_id": "C-1", "legal_name": "Acme",
            "currency": "USD", "tax_rate": null,
            "billing_address": {"line1": "1 Main", "city": "X", "country": "US"}})))
        .unwrap();
        assert_eq!(new.external_crm_id.as_deref(), Some("C-1"));
        assert_eq!(new.payment_terms_days, 30);
        assert_eq!(new.tax_rate, None);
        assert!(new.extra_permissions().is_empty(), "no credit decision");
    }

    #[test]
    fn an_upsert_of_a_known_account_changes_the_fields_given_only() {
        let patch = account_patch(
            account_data(
                json!({"crm_id": "C-1", "legal_name": "Acme 2", "currency": "USD",
                "tax_rate": null}),
            ),
            Currency::USD,
        )
        .unwrap()
        .unwrap();
        assert_eq!(patch.legal_name.as_deref(), Some("Acme 2"));
        assert_eq!(patch.tax_rate, Some(None), "null clears");
        assert_eq!(patch.payment_terms_days, None, "absent stays");
        assert!(
            account_patch(account_data(json!({"crm_id": "C-1"})), Currency::USD)
                .unwrap()
                .is_none()
        );
        let refused = account_patch(
            account_data(json!({"crm_id": "C-1", "currency": "EUR"})),
            Currency::USD,
        );
        assert_eq!(
            fields(refused.unwrap_err()),
            vec![("currency".into(), "unchangeable".into())]
        );
    }

    #[test]
    fn amendments_carry_their_kinds_fields() {
        let upgrade_data: ContractUpgradedData = serde_json::from_value(json!({
            "crm_id": "K-1", "effective_date": "2026-12-01"
        }))
        .unwrap();
        assert_eq!(
            fields(upgrade(upgrade_data).unwrap_err()),
            vec![("charges".into(), "required".into())]
        );
        let renewed: ContractRenewedData = serde_json::from_value(json!({
            "crm_id": "K-1", "effective_date": "2026-12-01", "end_date": "2028-11-30"
        }))
        .unwrap();
        let a = renewal(renewed).unwrap();
        assert_eq!(a.kind, AmendmentKind::Renewal);
        assert_eq!(a.end_date, Some(time::macros::date!(2028 - 11 - 30)));
        let to = Uuid::now_v7();
        let moved: OwnershipChangedData = serde_json::from_value(json!({
            "crm_id": "K-1", "account_crm_id": "C-2", "effective_date": "2026-12-01"
        }))
        .unwrap();
        assert_eq!(ownership_change(moved, to).unwrap().account_id, Some(to));
        let ended: TerminatedData = serde_json::from_value(json!({
            "crm_id": "K-1", "effective_date": "2026-12-31", "note": " "
        }))
        .unwrap();
        assert_eq!(
            fields(termination(ended).unwrap_err()),
            vec![("note".into(), "required".into())]
        );
    }
}
