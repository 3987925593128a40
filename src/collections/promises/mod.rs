//! Promises to pay and payment arrangements: one or more instalments (amount, date) totalling
//! at most the past-due balance, with grace days. active → kept | broken | cancelled.
//!
//! Payments count towards a promise from the day it was made, in the order received, net of
//! refunds and not when returned. Instalment k is kept once the payments received by its date
//! plus grace cover instalments 1..k; it is missed when that day has passed uncovered, which
//! breaks the promise. A promise is kept when every instalment is. A returned payment that had
//! kept an instalment breaks the promise, kept or not.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpResponse};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::{Date, Duration, OffsetDateTime};
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
use crate::schema::promise_instalments::dsl as pi;
use crate::schema::promise_invoices::dsl as pv;
use crate::schema::promises::dsl as pr;
use crate::validate::Errors;
use crate::AppState;

crate::text_enum! {
    /// active → kept | broken | cancelled.
    PromiseStatus { Active => "active", Kept => "kept", Broken => "broken", Cancelled => "cancelled" }
}

crate::text_enum! {
    /// pending until its date plus grace; kept when covered; missed when not by then.
    InstalmentStatus { Pending => "pending", Kept => "kept", Missed => "missed" }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = crate::schema::promises, treat_none_as_null = true)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct PromiseRow {
    pub id: Uuid,
    pub account_id: Uuid,
    pub status: PromiseStatus,
    pub currency: String,
    pub total: Decimal,
    pub grace_days: i32,
    pub promised_on: Date,
    pub note: Option<String>,
    pub closed_on: Option<Date>,
    pub close_reason: Option<String>,
    pub created_by: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub version: i32,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = crate::schema::promise_instalments)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct InstalmentRow {
    pub promise_id: Uuid,
    pub seq: i32,
    pub due_date: Date,
    pub amount: Decimal,
    pub status: InstalmentStatus,
}

/// One instalment as promised.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewInstalment {
    #[serde(with = "crate::money::decimal")]
    #[schema(value_type = crate::money::DecimalString, example = "500.00")]
    pub amount: Decimal,
    pub due_date: Date,
}

/// A promise to record.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPromise {
    pub account_id: Uuid,
    /// 1 to 24, dates in increasing order from today on.
    pub instalments: Vec<NewInstalment>,
    /// Days after each date that payments still count (default `PROMISE_GRACE_DAYS`, 3).
    pub grace_days: Option<i32>,
    #[schema(max_length = 2000)]
    pub note: Option<String>,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelPromise {
    #[schema(max_length = 2000)]
    pub reason: String,
}

/// An instalment and where it stands.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InstalmentView {
    pub seq: i32,
    pub due_date: Date,
    /// The last day payments count for it: its date plus grace.
    pub deadline: Date,
    #[schema(value_type = crate::money::DecimalString, example = "500.00")]
    pub amount: Decimal,
    pub status: InstalmentStatus,
}

/// A promise to pay.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PromiseView {
    pub id: Uuid,
    pub account_id: Uuid,
    pub status: PromiseStatus,
    #[schema(value_type = crate::money::CurrencyCode)]
    pub currency: String,
    #[schema(value_type = crate::money::DecimalString, example = "1000.00")]
    pub total: Decimal,
    pub grace_days: i32,
    /// Payments received from this day on count.
    pub promised_on: Date,
    pub instalments: Vec<InstalmentView>,
    /// The past-due invoices the promise covers: not dunned while it is active.
    pub invoice_ids: Vec<Uuid>,
    pub note: Option<String>,
    pub closed_on: Option<Date>,
    pub close_reason: Option<String>,
    pub created_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub version: i32,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PromiseFilter {
    pub account_id: Option<Uuid>,
    pub status: Option<PromiseStatus>,
}

/// Where a promise stands on a day, given the payments that count towards it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    pub instalments: Vec<InstalmentStatus>,
    pub status: PromiseStatus,
}

/// Evaluates instalments `(date, amount)` against payments `(received, amount)` as of a day.
pub fn evaluate(
    instalments: &[(Date, Decimal)],
    payments: &[(Date, Decimal)],
    grace_days: i32,
    as_of: Date,
) -> Evaluation {
    let mut owed = Decimal::ZERO;
    let statuses: Vec<InstalmentStatus> = instalments
        .iter()
        .map(|&(due, amount)| {
            owed += amount;
            let deadline = due + Duration::days(grace_days.into());
            let paid: Decimal = payments
                .iter()
                .filter(|(received, _)| *received <= deadline)
                .map(|(_, a)| *a)
                .sum();
            if paid >= owed {
                InstalmentStatus::Kept
            } else if as_of > deadline {
                InstalmentStatus::Missed
            } else {
                InstalmentStatus::Pending
            }
        })
        .collect();
    let status = if statuses.contains(&InstalmentStatus::Missed) {
        PromiseStatus::Broken
    } else if statuses.iter().all(|s| *s == InstalmentStatus::Kept) {
        PromiseStatus::Kept
    } else {
        PromiseStatus::Active
    };
    Evaluation {
        instalments: statuses,
        status,
    }
}

/// Checks the instalments against the currency and today; their total.
pub fn check_instalments(
    instalments: &[NewInstalment],
    currency: Currency,
    today: Date,
    e: &mut Errors,
) -> Decimal {
    if instalments.is_empty() || instalments.len() > 24 {
        e.add(
            "instalments",
            "invalid",
            "a promise has 1 to 24 instalments",
        );
    }
    let mut total = Decimal::ZERO;
    let mut last: Option<Date> = None;
    let latest = today + Duration::days(366);
    for (k, i) in instalments.iter().enumerate() {
        let at = |name: &str| format!("instalments[{k}].{name}");
        if i.amount <= Decimal::ZERO {
            e.add(&at("amount"), "invalid", "must be above zero");
        } else if let Err(err) = currency.check(&at("amount"), i.amount) {
            e.push(err);
        }
        if i.due_date < today || i.due_date > latest {
            e.add(
                &at("due_date"),
                "out_of_range",
                format!("must be between {today} and {latest}"),
            );
        } else if last.is_some_and(|l| i.due_date <= l) {
            e.add(&at("due_date"), "out_of_order", "dates must increase");
        }
        last = Some(i.due_date);
        total += i.amount;
    }
    total
}

/// Views of promises: two queries whatever their number.
pub async fn views(conn: &mut Conn, rows: Vec<PromiseRow>) -> Result<Vec<PromiseView>, ApiError> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut instalments: HashMap<Uuid, Vec<InstalmentRow>> = HashMap::new();
    for i in pi::promise_instalments
        .filter(pi::promise_id.eq_any(&ids))
        .select(InstalmentRow::as_select())
        .order((pi::promise_id, pi::seq))
        .load::<InstalmentRow>(conn)
        .await?
    {
        instalments.entry(i.promise_id).or_default().push(i);
    }
    let mut invoices: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for (promise, invoice) in pv::promise_invoices
        .filter(pv::promise_id.eq_any(&ids))
        .select((pv::promise_id, pv::invoice_id))
        .order((pv::promise_id, pv::invoice_id))
        .load::<(Uuid, Uuid)>(conn)
        .await?
    {
        invoices.entry(promise).or_default().push(invoice);
    }
    Ok(rows
        .into_iter()
        .map(|r| {
            let currency = Currency::parse(&r.currency);
            let norm = |d: Decimal| currency.map_or(d, |c| c.normalize(d));
            PromiseView {
                instalments: instalments
                    .remove(&r.id)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|i| InstalmentView {
                        seq: i.seq,
                        due_date: i.due_date,
                        deadline: i.due_date + Duration::days(r.grace_days.into()),
                        amount: norm(i.amount),
                        status: i.status,
                    })
                    .collect(),
                invoice_ids: invoices.remove(&r.id).unwrap_or_default(),
                id: r.id,
                account_id: r.account_id,
                status: r.status,
                total: norm(r.total),
                currency: r.currency,
                grace_days: r.grace_days,
                promised_on: r.promised_on,
                note: r.note,
                closed_on: r.closed_on,
                close_reason: r.close_reason,
                created_by: r.created_by,
                created_at: r.created_at,
                version: r.version,
            }
        })
        .collect())
}

/// The active promise of each account given that has one.
pub async fn active_views(
    conn: &mut Conn,
    accounts: &[Uuid],
) -> Result<HashMap<Uuid, PromiseView>, ApiError> {
    let rows: Vec<PromiseRow> = pr::promises
        .filter(pr::account_id.eq_any(accounts))
        .filter(pr::status.eq(PromiseStatus::Active))
        .select(PromiseRow::as_select())
        .load(conn)
        .await?;
    Ok(views(conn, rows)
        .await?
        .into_iter()
        .map(|v| (v.account_id, v))
        .collect())
}

/// What a review of promises closed.
#[derive(Debug, Default, Clone, Copy)]
pub struct Reviewed {
    pub kept: i32,
    pub broken: i32,
}

/// Which promises a review looks at.
pub enum Scope {
    /// The active promises of one account (after its cash moved).
    Account(Uuid),
    /// The active and kept promises of one account (after one of its payments was returned).
    Returned(Uuid),
    /// Every active promise not being reviewed elsewhere (the job).
    All,
}

/// Re-evaluates promises as of `as_of`: instalments become kept or missed; promises become
/// kept or broken. A broken promise opens a high-priority task for the collector and puts the
/// account back in dunning.
pub async fn review(
    conn: &mut Conn,
    ctx: &Ctx,
    scope: Scope,
    as_of: Date,
) -> Result<Reviewed, ApiError> {
    let select = pr::promises.select(PromiseRow::as_select()).order(pr::id);
    let rows: Vec<PromiseRow> = match scope {
        Scope::Account(a) => {
            select
                .filter(pr::account_id.eq(a))
                .filter(pr::status.eq(PromiseStatus::Active))
                .for_update()
                .load(conn)
                .await?
        }
        Scope::Returned(a) => {
            select
                .filter(pr::account_id.eq(a))
                .filter(pr::status.eq_any([PromiseStatus::Active, PromiseStatus::Kept]))
                .for_update()
                .load(conn)
                .await?
        }
        Scope::All => {
            select
                .filter(pr::status.eq(PromiseStatus::Active))
                .for_update()
                .skip_locked()
                .load(conn)
                .await?
        }
    };
    let mut reviewed = Reviewed::default();
    if rows.is_empty() {
        return Ok(reviewed);
    }
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let accounts: Vec<Uuid> = rows.iter().map(|r| r.account_id).collect();
    let mut instalments: HashMap<Uuid, Vec<InstalmentRow>> = HashMap::new();
    for i in pi::promise_instalments
        .filter(pi::promise_id.eq_any(&ids))
        .select(InstalmentRow::as_select())
        .order((pi::promise_id, pi::seq))
        .load::<InstalmentRow>(conn)
        .await?
    {
        instalments.entry(i.promise_id).or_default().push(i);
    }
    let payments = {
        use crate::schema::payments::dsl as p;
        let mut by_account: HashMap<Uuid, Vec<(Date, Decimal)>> = HashMap::new();
        for (account, received, amount, refunded) in p::payments
            .filter(p::account_id.eq_any(&accounts))
            .filter(p::status.ne(crate::payments::model::PaymentStatus::Returned))
            .select((
                p::account_id,
                p::received_date,
                p::amount,
                p::amount_refunded,
            ))
            .load::<(Uuid, Date, Decimal, Decimal)>(conn)
            .await?
        {
            by_account
                .entry(account)
                .or_default()
                .push((received, amount - refunded));
        }
        by_account
    };
    for mut promise in rows {
        let current = instalments.remove(&promise.id).unwrap_or_default();
        let counted: Vec<(Date, Decimal)> = payments
            .get(&promise.account_id)
            .map(|ps| {
                ps.iter()
                    .filter(|(received, _)| *received >= promise.promised_on)
                    .copied()
                    .collect()
            })
            .unwrap_or_default();
        let plan: Vec<(Date, Decimal)> = current.iter().map(|i| (i.due_date, i.amount)).collect();
        let eval = evaluate(&plan, &counted, promise.grace_days, as_of);
        // An instalment kept before and uncovered now was kept by a returned payment.
        let unkept = current
            .iter()
            .zip(&eval.instalments)
            .any(|(i, now)| i.status == InstalmentStatus::Kept && *now != InstalmentStatus::Kept);
        let status = if unkept {
            PromiseStatus::Broken
        } else if promise.status == PromiseStatus::Kept {
            PromiseStatus::Kept
        } else {
            eval.status
        };
        let changed: Vec<(i32, InstalmentStatus)> = current
            .iter()
            .zip(&eval.instalments)
            .filter(|(i, now)| i.status != **now)
            .map(|(i, now)| (i.seq, *now))
            .collect();
        if changed.is_empty() && status == promise.status {
            continue;
        }
        let before = views(conn, vec![promise.clone()]).await?.remove(0);
        for (seq, s) in &changed {
            diesel::update(pi::promise_instalments.find((promise.id, *seq)))
                .set(pi::status.eq(*s))
                .execute(conn)
                .await?;
        }
        let action = match (promise.status, status) {
            (_, PromiseStatus::Broken) if promise.status != PromiseStatus::Broken => {
                reviewed.broken += 1;
                promise.close_reason = Some(if unkept {
                    "a payment that kept an instalment was returned".into()
                } else {
                    "an instalment was not paid by its date plus grace".into()
                });
                "promise.broken"
            }
            (PromiseStatus::Active, PromiseStatus::Kept) => {
                reviewed.kept += 1;
                promise.close_reason = Some("every instalment was paid".into());
                "promise.kept"
            }
            _ => "promise.reviewed",
        };
        if status != promise.status {
            promise.status = status;
            promise.closed_on = Some(as_of);
        }
        promise.version += 1;
        promise.updated_at = ctx.now;
        diesel::update(pr::promises.find(promise.id))
            .set(&promise)
            .execute(conn)
            .await?;
        let after = views(conn, vec![promise.clone()]).await?.remove(0);
        audit::record(
            conn,
            ctx,
            Change {
                action,
                entity_type: "promise",
                entity_id: promise.id,
                account_id: Some(promise.account_id),
                before: Some(&before),
                after: Some(&after),
            },
        )
        .await?;
        match action {
            "promise.broken" => {
                super::open_task(
                    conn,
                    ctx,
                    "broken_promise",
                    promise.account_id,
                    None,
                    format!("Promise to pay broken: {} {}", after.total, after.currency),
                    promise.close_reason.clone().unwrap_or_default(),
                    crate::tasks::model::Priority::High,
                    as_of,
                )
                .await?;
                super::set_status(
                    conn,
                    ctx,
                    promise.account_id,
                    &[CollectionsStatus::Promised, CollectionsStatus::None],
                    CollectionsStatus::InDunning,
                )
                .await?;
            }
            "promise.kept" => {
                let next = super::status_after_arrangement(conn, promise.account_id, as_of).await?;
                super::set_status(
                    conn,
                    ctx,
                    promise.account_id,
                    &[CollectionsStatus::Promised],
                    next,
                )
                .await?;
            }
            _ => {}
        }
    }
    Ok(reviewed)
}

/// Handles the POST /v1/collections/promises route: records a promise to pay (or a payment
/// arrangement of several instalments) for past-due invoices. The total may not exceed the
/// account's undisputed past-due balance; the account has at most one active promise. Its
/// past-due invoices are not dunned while the promise is active.
#[utoipa::path(
    tag = "collections",
    request_body = NewPromise,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response")),
    responses(
        (status = 201, description = "The promise was recorded", body = PromiseView),
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
#[post("/collections/promises")]
pub async fn create_promise(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    body: ApiJson<NewPromise>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CollectionsWrite)?;
    let new = body.0;
    let grace = new
        .grace_days
        .unwrap_or(state.config.collections.promise_grace_days);
    let mut e = Errors::default();
    if !(0..=60).contains(&grace) {
        e.add("grace_days", "out_of_range", "must be 0 to 60");
    }
    e.optional_text("note", new.note.as_deref(), 2000);
    e.finish()?;
    let fingerprint = idempotency::fingerprint("POST", "/v1/collections/promises", &new)?;
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
            let today = ctx.now.date();
            let currency = Currency::parse(&account.currency)
                .ok_or_else(|| ApiError::internal("the account's currency is unknown"))?;
            let mut e = Errors::default();
            let total = check_instalments(&new.instalments, currency, today, &mut e);
            e.finish()?;
            if matches!(
                account.collections_status,
                CollectionsStatus::WithAgency | CollectionsStatus::WrittenOff
            ) {
                return Err(ApiError::conflict(
                    "collections_status",
                    format!(
                        "The account is {}; promises are taken by the agency or not at all.",
                        account.collections_status.as_str().replace('_', " ")
                    ),
                ));
            }
            let active: i64 = pr::promises
                .filter(pr::account_id.eq(account.id))
                .filter(pr::status.eq(PromiseStatus::Active))
                .count()
                .get_result(conn)
                .await?;
            if active > 0 {
                return Err(ApiError::conflict(
                    "promise_exists",
                    "The account already has an active promise; cancel it first.",
                ));
            }
            let past_due = super::past_due(conn, account.id, today).await?;
            if total > past_due {
                return Err(ApiError::field(
                    "instalments",
                    "exceeds_past_due",
                    format!(
                        "the instalments total {} {}, above the past-due balance of {} {}",
                        currency.normalize(total),
                        currency.code(),
                        currency.normalize(past_due),
                        currency.code()
                    ),
                ));
            }
            let now = ctx.now;
            let row = PromiseRow {
                id: Uuid::now_v7(),
                account_id: account.id,
                status: PromiseStatus::Active,
                currency: account.currency.clone(),
                total,
                grace_days: grace,
                promised_on: today,
                note: new.note.as_deref().map(|n| n.trim().to_string()),
                closed_on: None,
                close_reason: None,
                created_by: ctx.principal.subject.clone(),
                created_at: now,
                updated_at: now,
                version: 1,
            };
            diesel::insert_into(pr::promises)
                .values(&row)
                .execute(conn)
                .await?;
            let instalments: Vec<InstalmentRow> = new
                .instalments
                .iter()
                .enumerate()
                .map(|(k, i)| InstalmentRow {
                    promise_id: row.id,
                    seq: k as i32 + 1,
                    due_date: i.due_date,
                    amount: i.amount,
                    status: InstalmentStatus::Pending,
                })
                .collect();
            diesel::insert_into(pi::promise_instalments)
                .values(&instalments)
                .execute(conn)
                .await?;
            diesel::sql_query(
                "INSERT INTO promise_invoices (promise_id, invoice_id)
                 SELECT $1, id FROM invoices
                  WHERE account_id = $2 AND status = 'open' AND due_date < $3
                    AND balance_due > disputed_amount",
            )
            .bind::<diesel::sql_types::Uuid, _>(row.id)
            .bind::<diesel::sql_types::Uuid, _>(account.id)
            .bind::<diesel::sql_types::Date, _>(today)
            .execute(conn)
            .await?;
            let view = views(conn, vec![row]).await?.remove(0);
            audit::record(
                conn,
                &ctx,
                Change {
                    action: "promise.created",
                    entity_type: "promise",
                    entity_id: view.id,
                    account_id: Some(view.account_id),
                    before: None,
                    after: Some(&view),
                },
            )
            .await?;
            super::set_status(
                conn,
                &ctx,
                account.id,
                &[CollectionsStatus::None, CollectionsStatus::InDunning],
                CollectionsStatus::Promised,
            )
            .await?;
            claim.finish(conn, StatusCode::CREATED, &view).await
        })
        .await?;
    Ok(stored.into_response())
}

/// Handles the POST /v1/collections/promises/{id}/cancel route: withdraws an active promise;
/// dunning of its invoices resumes.
#[utoipa::path(
    tag = "collections",
    request_body = CancelPromise,
    params(
        ("id" = Uuid, Path, description = "Promise id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 200, description = "The promise, cancelled", body = PromiseView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[post("/collections/promises/{id}/cancel")]
pub async fn cancel_promise(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    body: ApiJson<CancelPromise>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CollectionsWrite)?;
    let request = body.0;
    let reason = request.reason.clone();
    let mut e = Errors::default();
    e.text("reason", &reason, 2000);
    e.finish()?;
    let id = id.into_inner();
    let fingerprint = idempotency::fingerprint(
        "POST",
        &format!("/v1/collections/promises/{id}/cancel"),
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
            let mut row: PromiseRow = pr::promises
                .find(id)
                .select(PromiseRow::as_select())
                .for_update()
                .first(conn)
                .await
                .optional()?
                .ok_or(ApiError::NotFound("promise"))?;
            if row.status != PromiseStatus::Active {
                return Err(ApiError::conflict(
                    "promise_state",
                    format!("A {} promise cannot be cancelled.", row.status.as_str()),
                ));
            }
            let before = views(conn, vec![row.clone()]).await?.remove(0);
            let today = ctx.now.date();
            row.status = PromiseStatus::Cancelled;
            row.closed_on = Some(today);
            row.close_reason = Some(reason.trim().to_string());
            row.version += 1;
            row.updated_at = ctx.now;
            diesel::update(pr::promises.find(id))
                .set(&row)
                .execute(conn)
                .await?;
            let after = views(conn, vec![row.clone()]).await?.remove(0);
            audit::record(
                conn,
                &ctx,
                Change {
                    action: "promise.cancelled",
                    entity_type: "promise",
                    entity_id: id,
                    account_id: Some(row.account_id),
                    before: Some(&before),
                    after: Some(&after),
                },
            )
            .await?;
            let next = super::status_after_arrangement(conn, row.account_id, today).await?;
            super::set_status(
                conn,
                &ctx,
                row.account_id,
                &[CollectionsStatus::Promised],
                next,
            )
            .await?;
            claim.finish(conn, StatusCode::OK, &after).await
        })
        .await?;
    Ok(stored.into_response())
}

/// Handles the GET /v1/collections/promises/{id} route.
#[utoipa::path(
    tag = "collections",
    params(("id" = Uuid, Path, description = "Promise id")),
    responses(
        (status = 200, description = "The promise", body = PromiseView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/collections/promises/{id}")]
pub async fn get_promise(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CollectionsRead)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let row: PromiseRow = pr::promises
        .find(id.into_inner())
        .select(PromiseRow::as_select())
        .first(&mut conn)
        .await
        .optional()?
        .ok_or(ApiError::NotFound("promise"))?;
    Ok(HttpResponse::Ok().json(views(&mut conn, vec![row]).await?.remove(0)))
}

/// Handles the GET /v1/collections/promises route: promises in creation order, filtered.
#[utoipa::path(
    tag = "collections",
    params(PromiseFilter, PageParams),
    responses(
        (status = 200, description = "A page of promises", body = Page<PromiseView>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    ),
    security(("bearer" = []))
)]
#[get("/collections/promises")]
pub async fn list_promises(
    state: web::Data<AppState>,
    ctx: Ctx,
    filter: ApiQuery<PromiseFilter>,
    page: ApiQuery<PageParams>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CollectionsRead)?;
    let limit = page.0.limit()?;
    let after: Option<Uuid> = page.0.after()?;
    let mut query = pr::promises
        .select(PromiseRow::as_select())
        .order(pr::id)
        .limit(limit + 1)
        .into_boxed();
    if let Some(a) = filter.0.account_id {
        query = query.filter(pr::account_id.eq(a));
    }
    if let Some(s) = filter.0.status {
        query = query.filter(pr::status.eq(s));
    }
    if let Some(after) = after {
        query = query.filter(pr::id.gt(after));
    }
    let mut conn = crate::db::conn(&state.pool).await?;
    let rows: Vec<PromiseRow> = query.load(&mut conn).await?;
    let views = views(&mut conn, rows).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(views, limit, |v| v.id, |v| v)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn instalments_are_kept_cumulatively_within_grace() {
        let plan = [
            (date!(2026 - 12 - 01), d("100")),
            (date!(2027 - 01 - 01), d("100")),
        ];
        // 100 on Dec 3 (within 3 days' grace) keeps the first; nothing yet for the second.
        let paid = [(date!(2026 - 12 - 03), d("100"))];
        let e = evaluate(&plan, &paid, 3, date!(2026 - 12 - 10));
        assert_eq!(
            e.instalments,
            [InstalmentStatus::Kept, InstalmentStatus::Pending]
        );
        assert_eq!(e.status, PromiseStatus::Active);
        // By Jan 5 without more, the second is missed: broken.
        let e = evaluate(&plan, &paid, 3, date!(2027 - 01 - 05));
        assert_eq!(e.status, PromiseStatus::Broken);
        // Paying 200 at once keeps both.
        let e = evaluate(
            &plan,
            &[(date!(2026 - 12 - 01), d("200"))],
            3,
            date!(2026 - 12 - 01),
        );
        assert_eq!(e.status, PromiseStatus::Kept);
    }

    #[test]
    fn a_payment_after_grace_does_not_keep_it() {
        let plan = [(date!(2026 - 12 - 01), d("100"))];
        let paid = [(date!(2026 - 12 - 05), d("100"))];
        let e = evaluate(&plan, &paid, 3, date!(2026 - 12 - 05));
        assert_eq!(e.status, PromiseStatus::Broken);
        let e = evaluate(&plan, &paid, 3, date!(2026 - 12 - 04));
        assert_eq!(e.status, PromiseStatus::Active);
    }

    #[test]
    fn instalments_must_be_dated_in_order_and_exact() {
        let today = date!(2026 - 11 - 22);
        let usd = Currency::parse("USD").unwrap();
        let i = |a: &str, due| NewInstalment {
            amount: d(a),
            due_date: due,
        };
        let mut e = Errors::default();
        let total = check_instalments(
            &[i("10.00", today), i("5.50", date!(2026 - 12 - 01))],
            usd,
            today,
            &mut e,
        );
        assert!(e.0.is_empty());
        assert_eq!(total, d("15.50"));
        let mut e = Errors::default();
        check_instalments(
            &[
                i("10.001", date!(2026 - 12 - 01)),
                i("5", date!(2026 - 11 - 30)),
            ],
            usd,
            today,
            &mut e,
        );
        let fields: Vec<&str> = e.0.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["instalments[0].amount", "instalments[1].due_date"]);
    }
}
