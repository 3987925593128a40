//! CRM events as their commands handle them: an event received (stored once per source and
//! id, processed in the same transaction) and a failed event retried. Processing goes through
//! the services of accounts, contracts and service orders, as the API does, inside a savepoint:
//! a refusal rolls its effect back and is stored as the event's failure.

use actix_web::http::StatusCode;
use diesel_async::AsyncConnection;
use serde_json::{json, Value};
use time::OffsetDateTime;

use super::model::{
    ContractSignedData, CrmEvent, CrmEventRow, CrmEventView, EventStatus, EventType,
};
use super::rules::{self, Signer};
use super::settings::CrmSettings;
use super::store;
use crate::accounts::model::{AccountFilter, AccountRow};
use crate::billing::engine::Settings;
use crate::collections::service_orders::{self, OrderKind, OrderSource};
use crate::context::Ctx;
use crate::contracts::model::{ContractView, NewAmendment};
use crate::db::Conn;
use crate::error::ApiError;
use crate::extract::Expected;

/// The signer of an event's raw body, or 401 naming why the signature is refused.
pub fn authenticate(
    settings: &CrmSettings,
    header: Option<&str>,
    body: &[u8],
    now: OffsetDateTime,
) -> Result<Signer, ApiError> {
    rules::signer(settings, header, body, now).map_err(|refused| {
        ApiError::Unauthorized(
            rules::refused_code(refused),
            format!("The event's signature is refused: {}.", refused.reason()),
        )
    })
}

/// The event in a verified raw body: 400 when it is not JSON, 422 naming each field that is
/// missing or wrong in the envelope.
pub fn read_event(body: &[u8], now: OffsetDateTime) -> Result<CrmEvent, ApiError> {
    let event: CrmEvent = crate::extract::parse_json(body)?;
    rules::check_envelope(&event, now)?;
    Ok(event)
}

/// Stores and processes an event, once per source and event id: 201 with what processing
/// made of it the first time; 200 with the stored event whenever its id comes again. The
/// event row is written once, after its effect, in the same transaction, and that insert is
/// where a repeated id is found: a request with an id stored before (or being stored by a
/// concurrent request, which it waits for) rolls its own effect back and answers the stored
/// event. Repeats are rare; a lookup before every event would cost every event a statement.
pub async fn receive(
    conn: &mut Conn,
    ctx: &Ctx,
    billing: &Settings,
    signer: Signer,
    raw: &[u8],
    event: &CrmEvent,
) -> Result<(StatusCode, CrmEventView), ApiError> {
    let source = signer.source.clone();
    let row = CrmEventRow {
        source: signer.source,
        id: event.id.clone(),
        type_: event.type_.clone(),
        occurred_at: Some(event.occurred_at),
        subject: None,
        raw_body: raw.to_vec(),
        signature_secret: signer.secret,
        signed_at: signer.signed_at,
        status: EventStatus::Processed,
        failure_code: None,
        failure_reason: None,
        result: None,
        attempts: 1,
        received_at: ctx.now,
        processed_at: ctx.now,
    };
    let stored = conn
        .transaction(async |conn| {
            let row = process(conn, ctx, billing, row, event).await?;
            match store::insert(conn, &row).await? {
                Some(stored) => Ok(stored),
                // The event was stored before (or by a concurrent request, just now): this
                // effect rolls back and the first result is the answer.
                None => Err(ApiError::conflict(RECEIVED_BEFORE, String::new())),
            }
        })
        .await;
    match stored {
        Ok(row) => Ok((StatusCode::CREATED, row.into())),
        Err(ApiError::Conflict {
            code: RECEIVED_BEFORE,
            ..
        }) => Ok((
            StatusCode::OK,
            store::find(conn, &source, &event.id).await?.into(),
        )),
        Err(err) => Err(err),
    }
}

/// The refusal that rolls back an event's transaction when its id was stored already; never
/// answered (the stored event is).
const RECEIVED_BEFORE: &str = "event_received_before";

/// Processes a failed event again from its stored raw body (after a fix: the account it
/// names now exists, say); 409 `event_not_failed` for any other.
pub async fn retry(
    conn: &mut Conn,
    ctx: &Ctx,
    billing: &Settings,
    source: &str,
    id: &str,
) -> Result<(StatusCode, CrmEventView), ApiError> {
    conn.transaction(async |conn| {
        let mut row = store::lock(conn, source, id).await?;
        rules::check_retry(row.status)?;
        let event: CrmEvent = crate::extract::parse_json(&row.raw_body)?;
        row.attempts += 1;
        let row = process(conn, ctx, billing, row, &event).await?;
        Ok((StatusCode::OK, store::save(conn, &row).await?.into()))
    })
    .await
}

/// What processing makes of an event: processed with its result, failed with the refusal, or
/// ignored when a later event about its record was processed already. Errors that are not a
/// refusal (the database lost, a lost lock cycle) are returned: nothing is stored then.
async fn process(
    conn: &mut Conn,
    ctx: &Ctx,
    billing: &Settings,
    mut row: CrmEventRow,
    event: &CrmEvent,
) -> Result<CrmEventRow, ApiError> {
    row.status = EventStatus::Processed;
    row.failure_code = None;
    row.failure_reason = None;
    row.result = None;
    row.processed_at = ctx.now;
    let kind: Option<EventType> = row.type_.parse().ok();
    row.subject = rules::subject(kind, &event.data);
    let Some(kind) = kind else {
        let reason = format!("the service does not act on events of type {:?}", row.type_);
        return Ok(failed(row, "unknown_type".into(), reason));
    };
    if let Some(subject) = &row.subject {
        store::lock_subject(conn, &row.source, subject).await?;
        let latest = store::latest_processed(conn, &row.source, subject, &row.id).await?;
        if rules::is_out_of_order(event.occurred_at, latest) {
            row.status = EventStatus::Ignored;
            row.result = Some(json!({ "later_event_occurred_at": latest.map(rfc3339) }));
            return Ok(row);
        }
    }
    let outcome = conn
        .transaction(async |conn| apply(conn, ctx, billing, kind, &event.data).await)
        .await;
    match outcome {
        Ok(result) => row.result = Some(result),
        Err(err) => {
            let (code, reason) = failure(err)?;
            row = failed(row, code, reason);
        }
    }
    Ok(row)
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn failed(mut row: CrmEventRow, code: String, reason: String) -> CrmEventRow {
    row.status = EventStatus::Failed;
    row.failure_code = Some(code);
    row.failure_reason = Some(reason);
    row.result = None;
    row
}

/// A refusal as an event's failure (its code and reason); any other error as it is.
fn failure(err: ApiError) -> Result<(String, String), ApiError> {
    match err {
        ApiError::Validation(errors) => Ok((
            "validation_failed".into(),
            rules::reason_of(&rules::in_data(errors)),
        )),
        ApiError::Conflict {
            code: "concurrent_update",
            ..
        } => Err(err),
        ApiError::Conflict { code, detail, .. } | ApiError::BadRequest { code, detail, .. } => {
            Ok((code.into(), detail))
        }
        ApiError::NotFound(what) => Ok(("not_found".into(), format!("the {what} does not exist"))),
        ApiError::Forbidden(why) => Ok(("forbidden".into(), why)),
        other => Err(other),
    }
}

/// `data` as the type's shape (fields named as in `data`, unknown ones refused).
fn parse<T: serde::de::DeserializeOwned>(data: &Value) -> Result<T, ApiError> {
    crate::extract::parse_json(&serde_json::to_vec(data)?)
}

/// The event's effect through the domains' services; what it made.
async fn apply(
    conn: &mut Conn,
    ctx: &Ctx,
    billing: &Settings,
    kind: EventType,
    data: &Value,
) -> Result<Value, ApiError> {
    match kind {
        EventType::AccountUpserted => upsert_account(conn, ctx, parse(data)?).await,
        EventType::ContractSigned => sign_contract(conn, ctx, parse(data)?).await,
        EventType::ContractUpgraded => {
            let data: super::model::ContractUpgradedData = parse(data)?;
            let crm_id = data.crm_id.clone();
            amended(amend(conn, ctx, billing, &crm_id, rules::upgrade(data)?).await?)
        }
        EventType::ContractRenewed => {
            let data: super::model::ContractRenewedData = parse(data)?;
            let crm_id = data.crm_id.clone();
            amended(amend(conn, ctx, billing, &crm_id, rules::renewal(data)?).await?)
        }
        EventType::ContractOwnershipChanged => {
            let data: super::model::OwnershipChangedData = parse(data)?;
            let crm_id = data.crm_id.clone();
            let to = account_by_crm_id(conn, &data.account_crm_id).await?;
            let new = rules::ownership_change(data, to.id)?;
            amended(amend(conn, ctx, billing, &crm_id, new).await?)
        }
        EventType::ContractTerminated => terminate(conn, ctx, billing, parse(data)?).await,
    }
}

/// The account the CRM knows as `crm_id`, if any.
async fn find_account(conn: &mut Conn, crm_id: &str) -> Result<Option<AccountRow>, ApiError> {
    let filter = AccountFilter {
        external_crm_id: Some(crm_id.to_string()),
        ..Default::default()
    };
    let rows = crate::accounts::store::list(conn, &filter, None, None, 1).await?;
    Ok(rows.into_iter().next())
}

/// The account the CRM knows as `crm_id`, or the `unknown_account` refusal.
async fn account_by_crm_id(conn: &mut Conn, crm_id: &str) -> Result<AccountRow, ApiError> {
    find_account(conn, crm_id)
        .await?
        .ok_or_else(|| rules::unknown_account(crm_id).into())
}

/// `account.upserted`: opens the account, or changes the fields the event gives.
async fn upsert_account(
    conn: &mut Conn,
    ctx: &Ctx,
    data: super::model::AccountData,
) -> Result<Value, ApiError> {
    match find_account(conn, &data.crm_id).await? {
        None => {
            let new = rules::new_account(data)?;
            let draft = new.into_row(crate::accounts::rules::account_number(1), ctx.now)?;
            let written = crate::accounts::service::create(conn, ctx, &draft, None).await?;
            let account = written.audit(conn, ctx).await?;
            Ok(json!({"account_id": account.id, "created": true}))
        }
        Some(current) => {
            let id = current.id;
            if let Some(patch) = rules::account_patch(data, current.currency)? {
                let written =
                    crate::accounts::service::update(conn, ctx, id, patch, Expected::Any).await?;
                written.audit(conn, ctx).await?;
            }
            Ok(json!({"account_id": id, "created": false}))
        }
    }
}

/// `contract.signed`: creates the contract for the account named, links it to the CRM's id
/// and activates it.
async fn sign_contract(
    conn: &mut Conn,
    ctx: &Ctx,
    data: ContractSignedData,
) -> Result<Value, ApiError> {
    if crate::contracts::store::find_by_crm_id(conn, &data.crm_id)
        .await?
        .is_some()
    {
        return Err(ApiError::conflict(
            "duplicate_external_crm_id",
            format!(
                "a contract with the CRM id {:?} exists already",
                data.crm_id
            ),
        ));
    }
    let account = account_by_crm_id(conn, &data.account_crm_id).await?;
    let crm_id = data.crm_id.clone();
    let new = rules::new_contract(data, account.id)?;
    let written = crate::contracts::service::create(conn, ctx, &new).await?;
    let created = written.audit(conn, ctx).await?;
    crate::contracts::service::link_crm(conn, created.id, &crm_id).await?;
    let written = crate::contracts::service::activate(conn, ctx, created.id, Expected::Any).await?;
    let active = written.audit(conn, ctx).await?;
    Ok(json!({"contract_id": active.id, "account_id": account.id}))
}

/// Amends the contract the CRM knows as `crm_id`, as `POST /v1/contracts/{id}/amendments`.
async fn amend(
    conn: &mut Conn,
    ctx: &Ctx,
    billing: &Settings,
    crm_id: &str,
    new: NewAmendment,
) -> Result<ContractView, ApiError> {
    let contract = crate::contracts::store::find_by_crm_id(conn, crm_id)
        .await?
        .ok_or_else(|| ApiError::from(rules::unknown_contract(crm_id)))?;
    let written =
        crate::contracts::service::amend(conn, ctx, billing, contract.id, Expected::Any, &new)
            .await?;
    written.audit(conn, ctx).await
}

/// What an amendment made: the contract and its newest amendment.
fn amended(view: ContractView) -> Result<Value, ApiError> {
    Ok(json!({
        "contract_id": view.id,
        "amendment_id": view.amendments.last().map(|a| a.id),
    }))
}

/// `contract.terminated`: the termination amendment (which settles the contract), then the
/// pick-up of its equipment still installed, as completing a termination order does.
async fn terminate(
    conn: &mut Conn,
    ctx: &Ctx,
    billing: &Settings,
    data: super::model::TerminatedData,
) -> Result<Value, ApiError> {
    let crm_id = data.crm_id.clone();
    let view = amend(conn, ctx, billing, &crm_id, rules::termination(data)?).await?;
    let equipment =
        service_orders::store::equipment_of(conn, view.account_id, Some(view.id)).await?;
    let order = if equipment.is_empty() {
        None
    } else {
        service_orders::create(
            conn,
            ctx,
            view.account_id,
            OrderKind::EquipmentPickup,
            Some(view.id),
            OrderSource::Automatic,
            format!(
                "equipment of contract {} terminated in the CRM",
                view.number
            ),
        )
        .await?
    };
    let mut result = amended(view)?;
    result["service_order_id"] = json!(order.map(|o| o.id));
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::refusal::FieldError;

    #[test]
    fn refusals_become_failures_and_other_errors_stay_errors() {
        let (code, reason) = failure(ApiError::Validation(vec![FieldError::new(
            "legal_name",
            "required",
            "is required",
        )]))
        .unwrap();
        assert_eq!(
            (code.as_str(), reason.as_str()),
            ("validation_failed", "data.legal_name: is required")
        );
        let (code, _) = failure(ApiError::conflict("credit_hold", "on hold")).unwrap();
        assert_eq!(code, "credit_hold");
        for err in [
            ApiError::conflict("concurrent_update", "retry"),
            ApiError::Unavailable("down".into()),
            ApiError::internal("bug"),
        ] {
            assert!(failure(err).is_err());
        }
    }
}
