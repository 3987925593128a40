//! HTTP handlers of dunning policies: create, list, read (at a version) and change (making a
//! new version).

use actix_web::http::StatusCode;
use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use uuid::Uuid;

use super::model::{NewPolicy, PolicyPatch, PolicyRow, PolicyView, StepView, VersionQuery};
use super::rules::{check_policy_fields, step_rows};
use super::store::{check_unique, find, lock_policies, steps_of, view};
use crate::audit;
use crate::auth::Permission;
use crate::context::Ctx;
use crate::error::ApiError;
use crate::extract::{versioned, ApiJson, ApiQuery, Expected, IdempotencyKey};
use crate::idempotency;
use crate::openapi::responses::*;
use crate::schema::dunning_policies::dsl as dp;
use crate::schema::dunning_steps::dsl as ds;
use crate::state::AppState;
use crate::validate::Errors;

/// Handles the POST /v1/collections/dunning-policies route: creates a policy at version 1.
#[utoipa::path(
    tag = "collections",
    request_body = NewPolicy,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response")),
    responses(
        (status = 201, description = "The policy was created", body = PolicyView),
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
#[post("/collections/dunning-policies")]
pub async fn create_policy(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    body: ApiJson<NewPolicy>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CollectionsManage)?;
    let new = body.0;
    let id = Uuid::now_v7();
    let mut e = Errors::default();
    check_policy_fields(&new.name, new.segment.as_deref(), &mut e);
    let steps = step_rows(id, 1, &new.steps, &mut e);
    e.finish()?;
    let fingerprint = idempotency::fingerprint("POST", "/v1/collections/dunning-policies", &new)?;
    let stored = idempotency::run(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| {
            lock_policies(conn).await?;
            check_unique(conn, id, new.segment.as_deref(), new.is_default).await?;
            let taken: i64 = dp::dunning_policies
                .filter(dp::name.eq(new.name.trim()))
                .count()
                .get_result(conn)
                .await?;
            if taken > 0 {
                return Err(ApiError::Conflict {
                    code: "name_taken",
                    detail: "another policy has this name".into(),
                    field: Some("name"),
                });
            }
            let now = ctx.now;
            let row = PolicyRow {
                id,
                name: new.name.trim().to_string(),
                segment: new.segment.clone(),
                is_default: new.is_default,
                version: 1,
                created_by: ctx.principal.subject.clone(),
                created_at: now,
                updated_at: now,
            };
            diesel::insert_into(dp::dunning_policies)
                .values(&row)
                .execute(conn)
                .await?;
            diesel::insert_into(ds::dunning_steps)
                .values(&steps)
                .execute(conn)
                .await?;
            let view = view(conn, row, 1).await?;
            audit::changed(conn, &ctx, "dunning_policy.created", None, Some(&view)).await?;
            Ok((StatusCode::CREATED, view))
        },
    )
    .await?;
    Ok(stored.into_response())
}

/// Handles the GET /v1/collections/dunning-policies route: every policy at its newest
/// version, by name.
#[utoipa::path(
    tag = "collections",
    responses(
        (status = 200, description = "The policies", body = Vec<PolicyView>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    ),
    security(("bearer" = []))
)]
#[get("/collections/dunning-policies")]
pub async fn list_policies(state: web::Data<AppState>, ctx: Ctx) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CollectionsRead)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let rows: Vec<PolicyRow> = dp::dunning_policies
        .select(PolicyRow::as_select())
        .order(dp::name)
        .load(&mut conn)
        .await?;
    let versions: Vec<(Uuid, i32)> = rows.iter().map(|r| (r.id, r.version)).collect();
    let mut steps = steps_of(&mut conn, &versions).await?;
    let views: Vec<PolicyView> = rows
        .into_iter()
        .map(|row| PolicyView {
            steps: steps
                .remove(&(row.id, row.version))
                .unwrap_or_default()
                .into_iter()
                .map(StepView::from)
                .collect(),
            id: row.id,
            name: row.name,
            segment: row.segment,
            is_default: row.is_default,
            version: row.version,
            latest_version: row.version,
            created_by: row.created_by,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
        .collect();
    Ok(HttpResponse::Ok().json(views))
}

/// Handles the GET /v1/collections/dunning-policies/{id} route: a policy at its newest
/// version, or at `version`.
#[utoipa::path(
    tag = "collections",
    params(("id" = Uuid, Path, description = "Policy id"), VersionQuery),
    responses(
        (status = 200, description = "The policy", body = PolicyView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/collections/dunning-policies/{id}")]
pub async fn get_policy(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
    query: ApiQuery<VersionQuery>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CollectionsRead)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let row = find(&mut conn, id.into_inner()).await?;
    let latest = row.version;
    let version = query.0.version.unwrap_or(latest);
    if !(1..=latest).contains(&version) {
        return Err(ApiError::NotFound("dunning policy version"));
    }
    let view = view(&mut conn, row, version).await?;
    Ok(versioned(StatusCode::OK, latest, &view))
}

/// Handles the PATCH /v1/collections/dunning-policies/{id} route: makes a new version with
/// the changes; steps given replace the steps. Earlier versions stay readable.
#[utoipa::path(
    tag = "collections",
    request_body = PolicyPatch,
    params(
        ("id" = Uuid, Path, description = "Policy id"),
        ("If-Match" = Option<String>, Header, description = "ETag of the version being changed"),
    ),
    responses(
        (status = 200, description = "The policy at its new version", body = PolicyView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 412, response = PreconditionFailed),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
        (status = 428, response = PreconditionRequired),
    ),
    security(("bearer" = []))
)]
#[patch("/collections/dunning-policies/{id}")]
pub async fn update_policy(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
    id: web::Path<Uuid>,
    body: ApiJson<PolicyPatch>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CollectionsManage)?;
    let id = id.into_inner();
    let patch = body.0;
    if patch.names_nothing() {
        return Err(ApiError::field("body", "empty", "names no field to change"));
    }
    let expected = Expected::from_request(&req, patch.version)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let view = conn
        .transaction(async |conn| {
            lock_policies(conn).await?;
            let current = find(conn, id).await?;
            expected.check(current.version)?;
            let before = view(conn, current.clone(), current.version).await?;
            let mut next = current.clone();
            next.version += 1;
            next.updated_at = ctx.now;
            if let Some(name) = &patch.name {
                next.name = name.trim().to_string();
            }
            if let Some(segment) = &patch.segment {
                next.segment = segment.clone();
            }
            if let Some(flag) = patch.is_default {
                next.is_default = flag;
            }
            let mut e = Errors::default();
            check_policy_fields(&next.name, next.segment.as_deref(), &mut e);
            let steps = match &patch.steps {
                Some(steps) => step_rows(id, next.version, steps, &mut e),
                None => steps_of(conn, &[(id, current.version)])
                    .await?
                    .remove(&(id, current.version))
                    .unwrap_or_default()
                    .into_iter()
                    .map(|mut s| {
                        s.policy_version = next.version;
                        s
                    })
                    .collect(),
            };
            e.finish()?;
            check_unique(conn, id, next.segment.as_deref(), next.is_default).await?;
            let taken: i64 = dp::dunning_policies
                .filter(dp::name.eq(&next.name).and(dp::id.ne(id)))
                .count()
                .get_result(conn)
                .await?;
            if taken > 0 {
                return Err(ApiError::Conflict {
                    code: "name_taken",
                    detail: "another policy has this name".into(),
                    field: Some("name"),
                });
            }
            diesel::update(dp::dunning_policies.find(id))
                .set(&next)
                .execute(conn)
                .await?;
            diesel::insert_into(ds::dunning_steps)
                .values(&steps)
                .execute(conn)
                .await?;
            let version = next.version;
            let after = view(conn, next, version).await?;
            audit::changed(
                conn,
                &ctx,
                "dunning_policy.updated",
                Some(&before),
                Some(&after),
            )
            .await?;
            Ok::<_, ApiError>(after)
        })
        .await?;
    Ok(versioned(StatusCode::OK, view.version, &view))
}
