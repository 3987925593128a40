//! Agency placement: an account's past-due invoices handed to an outside agency (agency,
//! date, amount placed, commission rate). The account is `with_agency` and dunning stops.
//! Recoveries are payments of the whole amount the agency collected, applied oldest due first
//! (so the customer's invoices are settled by what the customer paid), and the agency's
//! commission is posted as its own entry, an `agency_commission` adjustment under the
//! placement's `expense` code: payment − commission is what the agency deposits, so the bank's
//! deposit and the cash receipts reconcile. A recall ends the placement and puts the account
//! back in dunning.

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpResponse};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::accounts::model::CollectionsStatus;
use crate::audit::{self, Change};
use crate::auth::Permission;
use crate::context::Ctx;
use crate::db::Conn;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, IdempotencyKey};
use crate::idempotency::{self, Begin};
use crate::money::Currency;
use crate::openapi::responses::*;
use crate::pagination::{Page, PageParams};
use crate::payments::model::{ApplicationMode, PaymentMethod, PaymentRow, PaymentStatus};
use crate::schema::agency_placements::dsl as ap;
use crate::schema::placement_invoices::dsl as pi;
use crate::schema::placement_recoveries::dsl as pr;
use crate::validate::Errors;
use crate::AppState;

crate::text_enum! {
    PlacementStatus { Active => "active", Recalled => "recalled" }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = crate::schema::agency_placements, treat_none_as_null = true)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct PlacementRow {
    pub id: Uuid,
    pub account_id: Uuid,
    pub agency: String,
    pub placed_on: Date,
    pub currency: String,
    pub amount_placed: Decimal,
    pub commission_rate: Decimal,
    pub status: PlacementStatus,
    pub recovered: Decimal,
    pub commission: Decimal,
    pub recalled_on: Option<Date>,
    pub recall_reason: Option<String>,
    pub created_by: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub version: i32,
    /// The `expense` code the agency's commission is posted under.
    pub commission_financial_code_id: Option<Uuid>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = crate::schema::placement_recoveries)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct RecoveryRow {
    pub id: Uuid,
    pub placement_id: Uuid,
    pub payment_id: Uuid,
    pub amount: Decimal,
    pub commission: Decimal,
    pub received_date: Date,
    pub created_by: String,
    pub created_at: OffsetDateTime,
    pub commission_adjustment_id: Option<Uuid>,
}

/// A recovery the agency reported.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecoveryView {
    pub id: Uuid,
    /// The payment recording the whole amount collected.
    pub payment_id: Uuid,
    #[serde(with = "crate::money::decimal")]
    #[schema(value_type = crate::money::DecimalString, example = "400.00")]
    pub amount: Decimal,
    /// The agency's fee: the amount × the commission rate, rounded half-up to the cent.
    #[schema(value_type = crate::money::DecimalString, example = "100.00")]
    pub commission: Decimal,
    /// What the agency remits: amount − commission.
    #[schema(value_type = crate::money::DecimalString, example = "300.00")]
    pub net: Decimal,
    pub received_date: Date,
    /// The `agency_commission` adjustment that posts the commission (none when it is zero).
    pub commission_adjustment_id: Option<Uuid>,
}

/// A placed invoice and the amount placed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PlacedInvoice {
    pub invoice_id: Uuid,
    #[schema(value_type = crate::money::DecimalString, example = "1200.00")]
    pub amount: Decimal,
}

/// An agency placement.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PlacementView {
    pub id: Uuid,
    pub account_id: Uuid,
    #[schema(example = "Midwest Recovery Partners")]
    pub agency: String,
    pub placed_on: Date,
    #[schema(value_type = crate::money::CurrencyCode)]
    pub currency: String,
    #[schema(value_type = crate::money::DecimalString, example = "1200.00")]
    pub amount_placed: Decimal,
    /// Percent of each recovery the agency keeps.
    #[serde(with = "crate::money::decimal")]
    #[schema(value_type = crate::money::DecimalString, example = "25")]
    pub commission_rate: Decimal,
    /// The `expense` code the commission is posted under.
    pub commission_financial_code_id: Option<Uuid>,
    pub status: PlacementStatus,
    #[schema(value_type = crate::money::DecimalString, example = "400.00")]
    pub recovered: Decimal,
    #[schema(value_type = crate::money::DecimalString, example = "100.00")]
    pub commission: Decimal,
    pub invoices: Vec<PlacedInvoice>,
    pub recoveries: Vec<RecoveryView>,
    pub recalled_on: Option<Date>,
    pub recall_reason: Option<String>,
    pub created_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub version: i32,
}

/// A placement to make.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPlacement {
    pub account_id: Uuid,
    #[schema(max_length = 200)]
    pub agency: String,
    /// Default today; not in the future.
    pub placed_on: Option<Date>,
    /// Percent, 0 to 100, up to 4 decimals.
    #[serde(with = "crate::money::decimal")]
    #[schema(value_type = crate::money::DecimalString, example = "25")]
    pub commission_rate: Decimal,
    /// An active `expense` code to post the agency's commission under; required unless the
    /// rate is zero.
    pub commission_financial_code_id: Option<Uuid>,
}

/// A recovery to record.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRecovery {
    /// The whole amount the agency collected from the customer.
    #[serde(with = "crate::money::decimal")]
    #[schema(value_type = crate::money::DecimalString, example = "400.00")]
    pub amount: Decimal,
    /// Default today; not in the future nor before the placement.
    pub received_date: Option<Date>,
    /// The agency's remittance reference.
    #[schema(max_length = 100)]
    pub reference: Option<String>,
    /// How the agency remitted (default wire).
    pub method: Option<PaymentMethod>,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Recall {
    #[schema(max_length = 2000)]
    pub reason: String,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PlacementFilter {
    pub account_id: Option<Uuid>,
    pub status: Option<PlacementStatus>,
}

/// The agency's commission on a recovery: amount × rate %, half-up to the currency's unit.
pub fn commission(amount: Decimal, rate: Decimal, currency: Currency) -> Decimal {
    currency.round(amount * rate / Decimal::ONE_HUNDRED)
}

async fn views(conn: &mut Conn, rows: Vec<PlacementRow>) -> Result<Vec<PlacementView>, ApiError> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let invoices: Vec<(Uuid, Uuid, Decimal)> = pi::placement_invoices
        .filter(pi::placement_id.eq_any(&ids))
        .select((pi::placement_id, pi::invoice_id, pi::amount))
        .order((pi::placement_id, pi::invoice_id))
        .load(conn)
        .await?;
    let recoveries: Vec<RecoveryRow> = pr::placement_recoveries
        .filter(pr::placement_id.eq_any(&ids))
        .select(RecoveryRow::as_select())
        .order(pr::id)
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let c = Currency::parse(&r.currency);
            let norm = |d: Decimal| c.map_or(d, |c| c.normalize(d));
            PlacementView {
                invoices: invoices
                    .iter()
                    .filter(|(p, _, _)| *p == r.id)
                    .map(|(_, invoice_id, amount)| PlacedInvoice {
                        invoice_id: *invoice_id,
                        amount: norm(*amount),
                    })
                    .collect(),
                recoveries: recoveries
                    .iter()
                    .filter(|x| x.placement_id == r.id)
                    .map(|x| RecoveryView {
                        id: x.id,
                        payment_id: x.payment_id,
                        amount: norm(x.amount),
                        commission: norm(x.commission),
                        net: norm(x.amount - x.commission),
                        received_date: x.received_date,
                        commission_adjustment_id: x.commission_adjustment_id,
                    })
                    .collect(),
                id: r.id,
                account_id: r.account_id,
                agency: r.agency,
                placed_on: r.placed_on,
                amount_placed: norm(r.amount_placed),
                commission_rate: r.commission_rate.normalize(),
                commission_financial_code_id: r.commission_financial_code_id,
                status: r.status,
                recovered: norm(r.recovered),
                commission: norm(r.commission),
                currency: r.currency,
                recalled_on: r.recalled_on,
                recall_reason: r.recall_reason,
                created_by: r.created_by,
                created_at: r.created_at,
                version: r.version,
            }
        })
        .collect())
}

async fn view(conn: &mut Conn, row: PlacementRow) -> Result<PlacementView, ApiError> {
    Ok(views(conn, vec![row]).await?.remove(0))
}

async fn lock(conn: &mut Conn, id: Uuid) -> Result<PlacementRow, ApiError> {
    ap::agency_placements
        .find(id)
        .select(PlacementRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?
        .ok_or(ApiError::NotFound("placement"))
}

async fn audit_placement(
    conn: &mut Conn,
    ctx: &Ctx,
    action: &str,
    before: Option<&PlacementView>,
    after: &PlacementView,
) -> Result<(), ApiError> {
    audit::record(
        conn,
        ctx,
        Change {
            action,
            entity_type: "agency_placement",
            entity_id: after.id,
            account_id: Some(after.account_id),
            before,
            after: Some(after),
        },
    )
    .await
}

#[derive(diesel::QueryableByName)]
struct Placed {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    invoice_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    amount: Decimal,
}

/// Handles the POST /v1/collections/placements route: places the account's past-due
/// invoices (their undisputed balances) with an agency. 409 when the account is already
/// with an agency, written off, or has an active promise.
#[utoipa::path(
    tag = "collections",
    request_body = NewPlacement,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response")),
    responses(
        (status = 201, description = "The placement", body = PlacementView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[post("/collections/placements")]
pub async fn create_placement(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    body: ApiJson<NewPlacement>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CollectionsManage)?;
    let new = body.0;
    let today = ctx.now.date();
    let placed_on = new.placed_on.unwrap_or(today);
    let mut e = Errors::default();
    e.text("agency", &new.agency, 200);
    if new.commission_rate.is_sign_negative()
        || new.commission_rate > Decimal::ONE_HUNDRED
        || new.commission_rate.scale() > 4
    {
        e.add(
            "commission_rate",
            "out_of_range",
            "a percentage from 0 to 100, up to 4 decimals",
        );
    }
    if placed_on > today {
        e.add("placed_on", "out_of_range", "must not be in the future");
    }
    if new.commission_financial_code_id.is_none() && !new.commission_rate.is_zero() {
        e.add(
            "commission_financial_code_id",
            "required",
            "the expense code the agency's commission is posted under",
        );
    }
    e.finish()?;
    let fingerprint = idempotency::fingerprint("POST", "/v1/collections/placements", &new)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let stored = conn
        .transaction(async |conn| {
            let claim = match idempotency::begin(conn, &ctx, key.0.as_deref(), &fingerprint).await?
            {
                Begin::Replay(stored) => return Ok(stored),
                Begin::Fresh(claim) => claim,
            };
            let account =
                crate::accounts::store::lock_named(conn, new.account_id, "account_id").await?;
            if let Some(code) = new.commission_financial_code_id {
                let mut e = Errors::default();
                crate::financial_codes::store::check_codes(
                    conn,
                    &[("commission_financial_code_id".into(), code)],
                    &[crate::financial_codes::model::FinancialCodeKind::Expense],
                    &mut e,
                )
                .await?;
                e.finish()?;
            }
            if matches!(
                account.collections_status,
                CollectionsStatus::WithAgency | CollectionsStatus::WrittenOff
            ) {
                return Err(ApiError::conflict(
                    "collections_status",
                    format!(
                        "The account is {}.",
                        account.collections_status.as_str().replace('_', " ")
                    ),
                ));
            }
            if !super::promises::active_views(conn, &[account.id])
                .await?
                .is_empty()
            {
                return Err(ApiError::conflict(
                    "promise_active",
                    "The account has an active promise to pay; cancel it before placing.",
                ));
            }
            let placed: Vec<Placed> = diesel::sql_query(
                "SELECT id AS invoice_id, balance_due - disputed_amount AS amount
                   FROM invoices
                  WHERE account_id = $1 AND status = 'open' AND due_date < $2
                    AND balance_due > disputed_amount
                  ORDER BY id
                    FOR UPDATE",
            )
            .bind::<diesel::sql_types::Uuid, _>(account.id)
            .bind::<diesel::sql_types::Date, _>(today)
            .load(conn)
            .await?;
            let amount: Decimal = placed.iter().map(|p| p.amount).sum();
            if amount <= Decimal::ZERO {
                return Err(ApiError::field(
                    "account_id",
                    "nothing_past_due",
                    "the account owes nothing past due",
                ));
            }
            let now = ctx.now;
            let row = PlacementRow {
                id: Uuid::now_v7(),
                account_id: account.id,
                agency: new.agency.trim().to_string(),
                placed_on,
                currency: account.currency.clone(),
                amount_placed: amount,
                commission_rate: new.commission_rate,
                status: PlacementStatus::Active,
                recovered: Decimal::ZERO,
                commission: Decimal::ZERO,
                recalled_on: None,
                recall_reason: None,
                created_by: ctx.principal.subject.clone(),
                created_at: now,
                updated_at: now,
                version: 1,
                commission_financial_code_id: new.commission_financial_code_id,
            };
            diesel::insert_into(ap::agency_placements)
                .values(&row)
                .execute(conn)
                .await?;
            let lines: Vec<_> = placed
                .iter()
                .map(|p| {
                    (
                        pi::placement_id.eq(row.id),
                        pi::invoice_id.eq(p.invoice_id),
                        pi::amount.eq(p.amount),
                    )
                })
                .collect();
            diesel::insert_into(pi::placement_invoices)
                .values(&lines)
                .execute(conn)
                .await?;
            super::set_status(
                conn,
                &ctx,
                account.id,
                &[
                    CollectionsStatus::None,
                    CollectionsStatus::InDunning,
                    CollectionsStatus::Promised,
                ],
                CollectionsStatus::WithAgency,
            )
            .await?;
            let view = view(conn, row).await?;
            audit_placement(conn, &ctx, "agency_placement.created", None, &view).await?;
            claim.finish(conn, StatusCode::CREATED, &view).await
        })
        .await?;
    Ok(stored.into_response())
}

/// Handles the POST /v1/collections/placements/{id}/recoveries route: records what the
/// agency collected as a payment on the account (applied oldest due first) and the agency's
/// commission on it.
#[utoipa::path(
    tag = "collections",
    request_body = NewRecovery,
    params(
        ("id" = Uuid, Path, description = "Placement id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 201, description = "The placement with the recovery", body = PlacementView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[post("/collections/placements/{id}/recoveries")]
pub async fn create_recovery(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    body: ApiJson<NewRecovery>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::PaymentsWrite)?;
    ctx.require(Permission::CollectionsWrite)?;
    let id = id.into_inner();
    let new = body.0;
    let today = ctx.now.date();
    let received = new.received_date.unwrap_or(today);
    let mut e = Errors::default();
    crate::payments::rules::check_amount("amount", new.amount, None, &mut e);
    e.optional_text("reference", new.reference.as_deref(), 100);
    e.finish()?;
    let fingerprint = idempotency::fingerprint(
        "POST",
        &format!("/v1/collections/placements/{id}/recoveries"),
        &new,
    )?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let stored = conn
        .transaction(async |conn| {
            let claim = match idempotency::begin(conn, &ctx, key.0.as_deref(), &fingerprint).await?
            {
                Begin::Replay(stored) => return Ok(stored),
                Begin::Fresh(claim) => claim,
            };
            let mut row = lock(conn, id).await?;
            if row.status != PlacementStatus::Active {
                return Err(ApiError::conflict(
                    "placement_state",
                    "A recalled placement takes no recoveries.",
                ));
            }
            let currency = Currency::parse(&row.currency)
                .ok_or_else(|| ApiError::internal("the placement's currency is unknown"))?;
            let mut e = Errors::default();
            crate::payments::rules::check_amount("amount", new.amount, Some(currency), &mut e);
            if received > today || received < row.placed_on {
                e.add(
                    "received_date",
                    "out_of_range",
                    format!("must be between {} and {today}", row.placed_on),
                );
            }
            e.finish()?;
            let before = view(conn, row.clone()).await?;
            let stamp = ctx.stamp();
            let fee = commission(new.amount, row.commission_rate, currency);
            let mut payment = PaymentRow {
                id: Uuid::now_v7(),
                number: crate::payments::store::next_number(conn).await?,
                account_id: row.account_id,
                amount: new.amount,
                currency: row.currency.clone(),
                method: new.method.unwrap_or(PaymentMethod::Wire),
                reference: new.reference.as_deref().map(|r| r.trim().to_string()),
                received_date: received,
                application_mode: ApplicationMode::Auto,
                memo: Some(format!("Recovery by {} (commission {fee})", row.agency)),
                amount_applied: Decimal::ZERO,
                amount_refunded: Decimal::ZERO,
                status: PaymentStatus::Unapplied,
                returned_on: None,
                return_reason: None,
                return_code: None,
                return_note: None,
                return_fee_invoice_id: None,
                version: 1,
                created_by: stamp.actor.clone(),
                created_at: stamp.now,
                updated_at: stamp.now,
            };
            let payment_view =
                crate::payments::service::receive(conn, &ctx, &mut payment, None, &stamp).await?;
            audit::record(
                conn,
                &ctx,
                Change {
                    action: "payment.received",
                    entity_type: "payment",
                    entity_id: payment.id,
                    account_id: Some(payment.account_id),
                    before: None,
                    after: Some(&payment_view),
                },
            )
            .await?;
            let commission_adjustment = match (fee.is_zero(), row.commission_financial_code_id) {
                (true, _) => None,
                (false, code) => {
                    Some(post_commission(conn, &ctx, &row, &payment, fee, code, &stamp).await?)
                }
            };
            diesel::insert_into(pr::placement_recoveries)
                .values(&RecoveryRow {
                    id: Uuid::now_v7(),
                    placement_id: id,
                    payment_id: payment.id,
                    amount: new.amount,
                    commission: fee,
                    received_date: received,
                    created_by: stamp.actor.clone(),
                    created_at: stamp.now,
                    commission_adjustment_id: commission_adjustment,
                })
                .execute(conn)
                .await?;
            row.recovered += new.amount;
            row.commission += fee;
            row.version += 1;
            row.updated_at = stamp.now;
            diesel::update(ap::agency_placements.find(id))
                .set(&row)
                .execute(conn)
                .await?;
            let after = view(conn, row).await?;
            audit_placement(
                conn,
                &ctx,
                "agency_placement.recovered",
                Some(&before),
                &after,
            )
            .await?;
            claim.finish(conn, StatusCode::CREATED, &after).await
        })
        .await?;
    Ok(stored.into_response())
}

/// Posts the agency's commission on a recovery: an `agency_commission` adjustment on the
/// account under the placement's `expense` code, tied to the recovery's payment. It moves no
/// invoice (the gross payment settled them) and is audited; its id.
async fn post_commission(
    conn: &mut Conn,
    ctx: &Ctx,
    placement: &PlacementRow,
    payment: &PaymentRow,
    fee: Decimal,
    code: Option<Uuid>,
    stamp: &crate::payments::rules::Stamp,
) -> Result<Uuid, ApiError> {
    use crate::adjustments::model::{AdjustmentKind, AdjustmentRow, AdjustmentView};
    let code = code.ok_or_else(|| {
        ApiError::conflict(
            "commission_code_missing",
            "The placement names no expense code for its commission; recall it and place again with commission_financial_code_id.",
        )
    })?;
    let row = AdjustmentRow {
        id: Uuid::now_v7(),
        account_id: placement.account_id,
        invoice_id: None,
        kind: AdjustmentKind::AgencyCommission,
        amount: fee,
        currency: placement.currency.clone(),
        financial_code_id: code,
        reason: format!(
            "Commission of {} ({}%) on recovery {}",
            placement.agency,
            placement.commission_rate.normalize(),
            payment.number
        ),
        deduction_id: None,
        created_by: stamp.actor.clone(),
        created_at: stamp.now,
        payment_id: Some(payment.id),
    };
    crate::adjustments::store::insert_many(conn, std::slice::from_ref(&row)).await?;
    let view = AdjustmentView::from(row.clone());
    audit::record(
        conn,
        ctx,
        Change {
            action: "adjustment.created",
            entity_type: "adjustment",
            entity_id: row.id,
            account_id: Some(row.account_id),
            before: None,
            after: Some(&view),
        },
    )
    .await?;
    Ok(row.id)
}

/// Handles the POST /v1/collections/placements/{id}/recall route: takes the account back from
/// the agency; it returns to dunning while anything is past due.
#[utoipa::path(
    tag = "collections",
    request_body = Recall,
    params(
        ("id" = Uuid, Path, description = "Placement id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 200, description = "The placement, recalled", body = PlacementView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[post("/collections/placements/{id}/recall")]
pub async fn recall_placement(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    body: ApiJson<Recall>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CollectionsManage)?;
    let request = body.0;
    let reason = request.reason.clone();
    let mut e = Errors::default();
    e.text("reason", &reason, 2000);
    e.finish()?;
    let id = id.into_inner();
    let fingerprint = idempotency::fingerprint(
        "POST",
        &format!("/v1/collections/placements/{id}/recall"),
        &request,
    )?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let stored = conn
        .transaction(async |conn| {
            let claim = match idempotency::begin(conn, &ctx, key.0.as_deref(), &fingerprint).await?
            {
                Begin::Replay(stored) => return Ok(stored),
                Begin::Fresh(claim) => claim,
            };
            let mut row = lock(conn, id).await?;
            if row.status != PlacementStatus::Active {
                return Err(ApiError::conflict(
                    "placement_state",
                    "The placement was already recalled.",
                ));
            }
            let before = view(conn, row.clone()).await?;
            let today = ctx.now.date();
            row.status = PlacementStatus::Recalled;
            row.recalled_on = Some(today);
            row.recall_reason = Some(reason.trim().to_string());
            row.version += 1;
            row.updated_at = ctx.now;
            diesel::update(ap::agency_placements.find(id))
                .set(&row)
                .execute(conn)
                .await?;
            let next = super::status_after_arrangement(conn, row.account_id, today).await?;
            super::set_status(
                conn,
                &ctx,
                row.account_id,
                &[CollectionsStatus::WithAgency],
                next,
            )
            .await?;
            let after = view(conn, row).await?;
            audit_placement(
                conn,
                &ctx,
                "agency_placement.recalled",
                Some(&before),
                &after,
            )
            .await?;
            claim.finish(conn, StatusCode::OK, &after).await
        })
        .await?;
    Ok(stored.into_response())
}

/// Handles the GET /v1/collections/placements/{id} route.
#[utoipa::path(
    tag = "collections",
    params(("id" = Uuid, Path, description = "Placement id")),
    responses(
        (status = 200, description = "The placement", body = PlacementView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/collections/placements/{id}")]
pub async fn get_placement(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CollectionsRead)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let row: PlacementRow = ap::agency_placements
        .find(id.into_inner())
        .select(PlacementRow::as_select())
        .first(&mut conn)
        .await
        .optional()?
        .ok_or(ApiError::NotFound("placement"))?;
    Ok(HttpResponse::Ok().json(view(&mut conn, row).await?))
}

/// Handles the GET /v1/collections/placements route: placements in creation order.
#[utoipa::path(
    tag = "collections",
    params(PlacementFilter, PageParams),
    responses(
        (status = 200, description = "A page of placements", body = Page<PlacementView>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    ),
    security(("bearer" = []))
)]
#[get("/collections/placements")]
pub async fn list_placements(
    state: web::Data<AppState>,
    ctx: Ctx,
    filter: ApiQuery<PlacementFilter>,
    page: ApiQuery<PageParams>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CollectionsRead)?;
    let limit = page.0.limit()?;
    let after: Option<Uuid> = page.0.after()?;
    let mut query = ap::agency_placements
        .select(PlacementRow::as_select())
        .order(ap::id)
        .limit(limit + 1)
        .into_boxed();
    if let Some(a) = filter.0.account_id {
        query = query.filter(ap::account_id.eq(a));
    }
    if let Some(s) = filter.0.status {
        query = query.filter(ap::status.eq(s));
    }
    if let Some(after) = after {
        query = query.filter(ap::id.gt(after));
    }
    let mut conn = crate::db::conn(&state.pool).await?;
    let rows: Vec<PlacementRow> = query.load(&mut conn).await?;
    let views = views(&mut conn, rows).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(views, limit, |v| v.id, |v| v)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commission_rounds_half_up_to_the_cent() {
        let usd = Currency::parse("USD").unwrap();
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        assert_eq!(commission(d("400.00"), d("25"), usd), d("100.00"));
        assert_eq!(commission(d("10.01"), d("12.5"), usd), d("1.25"));
        assert_eq!(commission(d("0.10"), d("5"), usd), d("0.01"));
    }
}
