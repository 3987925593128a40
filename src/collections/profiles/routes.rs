//! HTTP handlers of collections profiles and portfolio rules.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use diesel::prelude::*;
use diesel::sql_types::{Array, Nullable, Text, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, RunQueryDsl};
use uuid::Uuid;

use super::model::{
    CollectionsAccountView, NewRule, ProfilePatch, ProfileView, Reassignment, RuleRow, RuleView,
    RulesApplied,
};
use super::rules::matches;
use super::service::{account_view, apply_patch};
use super::store::{find, rules, save, Candidate};
use crate::audit::{self, Change};
use crate::auth::Permission;
use crate::collections::risk;
use crate::context::Ctx;
use crate::error::ApiError;
use crate::extract::{versioned, ApiJson, Expected, IdempotencyKey};
use crate::idempotency;
use crate::openapi::responses::*;
use crate::schema::assignment_rules::dsl as r;
use crate::state::AppState;
use crate::validate::Errors;

/// Handles the GET /v1/collections/accounts/{id} route: the account's collections profile,
/// effective dunning policy, risk score with each factor's part, balances, active promise
/// and last contact.
#[utoipa::path(
    tag = "collections",
    params(("id" = Uuid, Path, description = "Account id")),
    responses(
        (status = 200, description = "The account as collections see it", body = CollectionsAccountView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/collections/accounts/{id}")]
pub async fn get_collections_account(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CollectionsRead)?;
    let id = id.into_inner();
    let mut conn = crate::db::conn(&state.pool).await?;
    let view = account_view(&mut conn, &state, id, ctx.today()).await?;
    Ok(versioned(StatusCode::OK, view.profile.version, &view))
}

/// Handles the PATCH /v1/collections/accounts/{id} route: assigns the collector by hand, sets
/// the segment, the account's own dunning policy and the do-not-dun flag (with its reason).
#[utoipa::path(
    tag = "collections",
    request_body = ProfilePatch,
    params(
        ("id" = Uuid, Path, description = "Account id"),
        ("If-Match" = Option<String>, Header, description = "ETag of the profile version being changed (optional)"),
    ),
    responses(
        (status = 200, description = "The account as collections now see it", body = CollectionsAccountView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 412, response = PreconditionFailed),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[patch("/collections/accounts/{id}")]
pub async fn update_profile(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
    id: web::Path<Uuid>,
    body: ApiJson<ProfilePatch>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CollectionsManage)?;
    let id = id.into_inner();
    let patch = body.0;
    if patch.collector.is_none()
        && patch.segment.is_none()
        && patch.dunning_policy_id.is_none()
        && patch.do_not_dun.is_none()
        && patch.do_not_dun_reason.is_none()
    {
        return Err(ApiError::field("body", "empty", "names no field to change"));
    }
    let expected = match patch.version {
        Some(v) => Expected::from_request(&req, Some(v))?,
        None => Expected::optional(&req)?,
    };
    let mut conn = crate::db::conn(&state.pool).await?;
    conn.transaction(async |conn| {
        crate::accounts::store::lock_visible(conn, id, None).await?;
        let current = find(conn, id).await?;
        expected.check(current.version)?;
        let next = apply_patch(conn, &patch, &current, ctx.now).await?;
        save(conn, &next).await?;
        audit::record(
            conn,
            &ctx,
            Change {
                action: "collection_profile.updated",
                entity_type: "collection_profile",
                entity_id: id,
                account_id: Some(id),
                before: Some(&ProfileView::from(current)),
                after: Some(&ProfileView::from(next)),
            },
        )
        .await?;
        Ok::<_, ApiError>(())
    })
    .await?;
    let view = account_view(&mut conn, &state, id, ctx.today()).await?;
    Ok(versioned(StatusCode::OK, view.profile.version, &view))
}

/// Handles the POST /v1/collections/assignment-rules route: adds a portfolio rule.
#[utoipa::path(
    tag = "collections",
    request_body = NewRule,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response")),
    responses(
        (status = 201, description = "The rule was added", body = RuleView),
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
#[post("/collections/assignment-rules")]
pub async fn create_rule(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    body: ApiJson<NewRule>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CollectionsManage)?;
    let new = body.0;
    let mut e = Errors::default();
    if !(1..=10_000).contains(&new.position) {
        e.add("position", "out_of_range", "must be between 1 and 10000");
    }
    e.text("collector", &new.collector, 200);
    if new.min_balance.is_some_and(|m| {
        m.is_sign_negative()
            || m.scale() > 4
            || m >= crate::collections::dunning::rules::MAX_MIN_BALANCE
    }) {
        e.add(
            "min_balance",
            "invalid",
            "must be an amount ≥ 0 and below 100000000000000",
        );
    }
    e.finish()?;
    let fingerprint = idempotency::fingerprint("POST", "/v1/collections/assignment-rules", &new)?;
    let stored = idempotency::run(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| {
            if let Some(partner) = new.partner_id {
                if !crate::partners::store::exists(conn, partner).await? {
                    return Err(ApiError::field(
                        "partner_id",
                        "unknown",
                        "no partner has this id",
                    ));
                }
            }
            let taken: Option<Uuid> = r::assignment_rules
                .filter(r::position.eq(new.position))
                .select(r::id)
                .for_update()
                .first(conn)
                .await
                .optional()?;
            if taken.is_some() {
                return Err(ApiError::Conflict {
                    code: "position_taken",
                    detail: format!("another rule has position {}", new.position),
                    field: Some("position"),
                });
            }
            let row = RuleRow {
                id: Uuid::now_v7(),
                position: new.position,
                collector: new.collector.trim().to_string(),
                partner_id: new.partner_id,
                risk_level: new.risk_level,
                min_balance: new.min_balance,
                created_by: ctx.principal.subject.clone(),
                created_at: ctx.now,
            };
            diesel::insert_into(r::assignment_rules)
                .values(&row)
                .execute(conn)
                .await?;
            let view = RuleView::from(row);
            audit::changed(conn, &ctx, "assignment_rule.created", None, Some(&view)).await?;
            Ok((StatusCode::CREATED, view))
        },
    )
    .await?;
    Ok(stored.into_response())
}

/// Handles the GET /v1/collections/assignment-rules route: the rules in the order tried.
#[utoipa::path(
    tag = "collections",
    responses(
        (status = 200, description = "The rules by position", body = Vec<RuleView>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    ),
    security(("bearer" = []))
)]
#[get("/collections/assignment-rules")]
pub async fn list_rules(state: web::Data<AppState>, ctx: Ctx) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CollectionsRead)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let rows = rules(&mut conn).await?;
    Ok(HttpResponse::Ok().json(rows.into_iter().map(RuleView::from).collect::<Vec<_>>()))
}

/// Handles the DELETE /v1/collections/assignment-rules/{id} route: removes a rule. Accounts
/// it assigned keep their collector until the rules are applied again.
#[utoipa::path(
    tag = "collections",
    params(("id" = Uuid, Path, description = "Rule id")),
    responses(
        (status = 204, description = "The rule was removed"),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[delete("/collections/assignment-rules/{id}")]
pub async fn delete_rule(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CollectionsManage)?;
    let id = id.into_inner();
    let mut conn = crate::db::conn(&state.pool).await?;
    conn.transaction(async |conn| {
        let row: RuleRow = diesel::delete(r::assignment_rules.find(id))
            .returning(RuleRow::as_returning())
            .get_result(conn)
            .await
            .optional()?
            .ok_or(ApiError::NotFound("assignment rule"))?;
        audit::changed(
            conn,
            &ctx,
            "assignment_rule.deleted",
            Some(&RuleView::from(row)),
            None,
        )
        .await?;
        Ok::<_, ApiError>(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Handles the POST /v1/collections/assignment-rules/apply route: assigns every account not
/// assigned by hand to the collector of the first rule it matches (by partner, risk level
/// and open balance), or to none.
#[utoipa::path(
    tag = "collections",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response")),
    responses(
        (status = 200, description = "The accounts whose collector changed", body = RulesApplied),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    ),
    security(("bearer" = []))
)]
#[post("/collections/assignment-rules/apply")]
pub async fn apply_rules(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CollectionsManage)?;
    let weights = state.config.collections.risk.clone();
    let fingerprint =
        idempotency::fingerprint("POST", "/v1/collections/assignment-rules/apply", &())?;
    let stored = idempotency::run(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| {
            let now = ctx.now;
            let today = now.date();
            let rules = rules(conn).await?;
            // Profiles of the accounts decided here are locked so that a hand assignment made
            // meanwhile is not overwritten.
            let candidates: Vec<Candidate> = diesel::sql_query(
                "SELECT a.id, a.partner_id, cp.collector, cp.assignment_rule_id
                   FROM accounts a
                   LEFT JOIN collection_profiles cp ON cp.account_id = a.id
                  WHERE a.status <> 'closed'
                    AND (cp.collector IS NULL OR cp.assignment_rule_id IS NOT NULL)
                  ORDER BY a.id
                    FOR UPDATE OF a",
            )
            .load(conn)
            .await?;
            let ids: Vec<Uuid> = candidates.iter().map(|c| c.id).collect();
            let inputs: HashMap<Uuid, risk::Inputs> = risk::factors(conn, today, Some(&ids))
                .await?
                .into_iter()
                .map(|i| (i.account_id, i))
                .collect();
            let mut changes = Vec::new();
            for c in &candidates {
                let Some(i) = inputs.get(&c.id) else { continue };
                let level = risk::score(i, today, &weights).level;
                let rule = rules
                    .iter()
                    .find(|r| matches(r, c.partner_id, level, i.balance));
                let to = rule.map(|r| r.collector.clone());
                let rule_id = rule.map(|r| r.id);
                if to != c.collector || rule_id != c.assignment_rule_id {
                    changes.push(Reassignment {
                        account_id: c.id,
                        from: c.collector.clone(),
                        to,
                        rule_id,
                    });
                }
            }
            let accounts: Vec<Uuid> = changes.iter().map(|c| c.account_id).collect();
            let collectors: Vec<Option<String>> = changes.iter().map(|c| c.to.clone()).collect();
            let rule_ids: Vec<Option<Uuid>> = changes.iter().map(|c| c.rule_id).collect();
            diesel::sql_query(
                "INSERT INTO collection_profiles
                        (account_id, collector, assignment_rule_id, assigned_at, updated_at)
                 SELECT x.account_id, x.collector, x.rule_id,
                        CASE WHEN x.collector IS NULL THEN NULL ELSE $4 END, $4
                   FROM unnest($1::uuid[], $2::text[], $3::uuid[]) AS x(account_id, collector, rule_id)
                 ON CONFLICT (account_id) DO UPDATE
                    SET collector = EXCLUDED.collector,
                        assignment_rule_id = EXCLUDED.assignment_rule_id,
                        assigned_at = EXCLUDED.assigned_at,
                        version = collection_profiles.version + 1,
                        updated_at = EXCLUDED.updated_at",
            )
            .bind::<Array<SqlUuid>, _>(&accounts)
            .bind::<Array<Nullable<Text>>, _>(&collectors)
            .bind::<Array<Nullable<SqlUuid>>, _>(&rule_ids)
            .bind::<diesel::sql_types::Timestamptz, _>(now)
            .execute(conn)
            .await?;
            let applied = RulesApplied {
                examined: candidates.len(),
                changes,
            };
            if !applied.changes.is_empty() {
                audit::record(
                    conn,
                    &ctx,
                    Change {
                        action: "collection_portfolios.reassigned",
                        entity_type: "assignment_rule",
                        entity_id: Uuid::nil(),
                        account_id: None,
                        before: None,
                        after: Some(&applied),
                    },
                )
                .await?;
            }
            Ok((StatusCode::OK, applied))
        },
    )
    .await?;
    Ok(stored.into_response())
}
