use actix_web::http::StatusCode;
use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};
use uuid::Uuid;

use super::model::{validate, NewPartner, PartnerFilter, PartnerPatch, PartnerView};
use super::{service, store};
use crate::auth::Permission;
use crate::context::Ctx;
use crate::error::ApiError;
use crate::extract::{versioned, ApiJson, ApiQuery, Expected, IdempotencyKey};
use crate::idempotency;
use crate::openapi::responses::*;
use crate::pagination::{Page, PageParams};
use crate::state::AppState;

/// Handles the POST /v1/partners route: registers a partner (dealer).
#[utoipa::path(
    tag = "partners",
    request_body = NewPartner,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response")),
    responses(
        (status = 201, description = "The partner was created", body = PartnerView),
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
#[post("/partners")]
pub async fn create_partner(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    body: ApiJson<NewPartner>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::PartnersWrite)?;
    let new = body.0;
    let fingerprint = idempotency::fingerprint("POST", "/v1/partners", &new)?;
    let row = new.into_row(ctx.now);
    validate(&row)?;
    let stored = idempotency::write(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| service::create(conn, &row).await,
    )
    .await?;
    Ok(stored.into_response())
}

/// Handles the GET /v1/partners route: partners in creation order.
#[utoipa::path(
    tag = "partners",
    params(PartnerFilter, PageParams),
    responses(
        (status = 200, description = "A page of partners", body = Page<PartnerView>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    ),
    security(("bearer" = []))
)]
#[get("/partners")]
pub async fn list_partners(
    state: web::Data<AppState>,
    ctx: Ctx,
    filter: ApiQuery<PartnerFilter>,
    page: ApiQuery<PageParams>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::PartnersRead)?;
    let limit = page.0.limit()?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let rows = store::list(&mut conn, &filter.0, page.0.after()?, limit).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |r| r.id, PartnerView::from)))
}

/// Handles the GET /v1/partners/{id} route.
#[utoipa::path(
    tag = "partners",
    params(("id" = Uuid, Path, description = "Partner id")),
    responses(
        (status = 200, description = "The partner; its version is the ETag", body = PartnerView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/partners/{id}")]
pub async fn get_partner(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::PartnersRead)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let row = store::find(&mut conn, id.into_inner()).await?;
    Ok(versioned(
        StatusCode::OK,
        row.version,
        &PartnerView::from(row),
    ))
}

/// Handles the PATCH /v1/partners/{id} route: changes a partner under optimistic concurrency.
#[utoipa::path(
    tag = "partners",
    request_body = PartnerPatch,
    params(
        ("id" = Uuid, Path, description = "Partner id"),
        ("If-Match" = Option<String>, Header, description = "ETag of the version being changed (or send `version`)"),
    ),
    responses(
        (status = 200, description = "The changed partner", body = PartnerView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 412, response = PreconditionFailed),
        (status = 422, response = ValidationFailed),
        (status = 428, response = PreconditionRequired),
    ),
    security(("bearer" = []))
)]
#[patch("/partners/{id}")]
pub async fn update_partner(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
    id: web::Path<Uuid>,
    body: ApiJson<PartnerPatch>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::PartnersWrite)?;
    let patch = body.0;
    if patch.names_nothing() {
        return Err(ApiError::field("body", "empty", "names no field to change"));
    }
    let expected = Expected::from_request(&req, patch.version)?;
    let id = id.into_inner();
    let stored = idempotency::write(&state.pool, &ctx, None, "", async |conn| {
        service::update(conn, &ctx, id, patch, expected).await
    })
    .await?;
    Ok(stored.into_response())
}
