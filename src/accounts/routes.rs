use actix_web::http::StatusCode;
use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};
use uuid::Uuid;

use super::family::AccountFamily;
use super::model::{AccountFilter, AccountPatch, AccountView, CloseAccount, NewAccount};
use super::{rules, service, store};
use crate::audit;
use crate::audit::model::{AuditEventView, AuditFilter};
use crate::auth::Permission;
use crate::context::Ctx;
use crate::error::ApiError;
use crate::extract::{versioned, ApiJson, ApiQuery, Expected, IdempotencyKey};
use crate::idempotency;
use crate::openapi::responses::*;
use crate::pagination::{Page, PageParams};
use crate::state::AppState;

/// Handles the POST /v1/accounts route: opens a customer account.
#[utoipa::path(
    tag = "accounts",
    request_body = NewAccount,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response")),
    responses(
        (status = 201, description = "The account was created", body = AccountView),
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
#[post("/accounts")]
pub async fn create_account(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    body: ApiJson<NewAccount>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::AccountsWrite)?;
    let new = body.0;
    for permission in new.extra_permissions() {
        ctx.require(permission)?;
    }
    let fingerprint = idempotency::fingerprint("POST", "/v1/accounts", &new)?;
    let given_number = new.number.clone();
    let draft = new.into_row(
        given_number
            .clone()
            .unwrap_or_else(|| rules::account_number(1)),
        ctx.now,
    )?;
    let stored = idempotency::write(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| service::create(conn, &ctx, &draft, given_number).await,
    )
    .await?;
    Ok(stored.into_response())
}

/// Handles the GET /v1/accounts route: accounts in creation order, filtered.
#[utoipa::path(
    tag = "accounts",
    params(AccountFilter, PageParams),
    responses(
        (status = 200, description = "A page of accounts (a partner token sees its own only)", body = Page<AccountView>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    ),
    security(("bearer" = []))
)]
#[get("/accounts")]
pub async fn list_accounts(
    state: web::Data<AppState>,
    ctx: Ctx,
    filter: ApiQuery<AccountFilter>,
    page: ApiQuery<PageParams>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::AccountsRead)?;
    let limit = page.0.limit()?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let rows = store::list(
        &mut conn,
        &filter.0,
        ctx.partner_scope(),
        page.0.after()?,
        limit,
    )
    .await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |r| r.id, AccountView::from)))
}

/// Handles the GET /v1/accounts/{id} route.
#[utoipa::path(
    tag = "accounts",
    params(("id" = Uuid, Path, description = "Account id")),
    responses(
        (status = 200, description = "The account; its version is the ETag", body = AccountView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/accounts/{id}")]
pub async fn get_account(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::AccountsRead)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let row = store::find_visible(&mut conn, id.into_inner(), ctx.partner_scope()).await?;
    let version = row.version;
    let view = service::view(&mut conn, row, ctx.now.date()).await?;
    Ok(versioned(StatusCode::OK, version, &view))
}

/// Handles the GET /v1/accounts/{id}/family route: the whole tree the account's top ancestor
/// heads, parents before children, each member with its balances as of today, and the
/// totals. A partner sees only its own accounts of the family.
#[utoipa::path(
    tag = "accounts",
    params(("id" = Uuid, Path, description = "Account id")),
    responses(
        (status = 200, description = "The account's family", body = AccountFamily),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/accounts/{id}/family")]
pub async fn account_family(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::AccountsRead)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let family = service::family(
        &mut conn,
        id.into_inner(),
        ctx.partner_scope(),
        ctx.now.date(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(family))
}

/// Handles the PATCH /v1/accounts/{id} route: changes an account under optimistic concurrency.
///
/// Profile fields need `accounts:write`, credit fields `accounts:credit`, the collections status
/// `accounts:collections`.
#[utoipa::path(
    tag = "accounts",
    request_body = AccountPatch,
    params(
        ("id" = Uuid, Path, description = "Account id"),
        ("If-Match" = Option<String>, Header, description = "ETag of the version being changed (or send `version`)"),
    ),
    responses(
        (status = 200, description = "The changed account", body = AccountView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 412, response = PreconditionFailed),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
        (status = 428, response = PreconditionRequired),
    ),
    security(("bearer" = []))
)]
#[patch("/accounts/{id}")]
pub async fn update_account(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
    id: web::Path<Uuid>,
    body: ApiJson<AccountPatch>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::AccountsRead)?;
    let patch = body.0;
    let needed = patch.required_permissions();
    if needed.is_empty() {
        return Err(ApiError::field("body", "empty", "names no field to change"));
    }
    for any_of in needed {
        if !any_of.iter().any(|p| ctx.principal.can(*p)) {
            ctx.require(any_of[0])?;
        }
    }
    let expected = Expected::from_request(&req, patch.version)?;
    let id = id.into_inner();
    let stored = idempotency::write(&state.pool, &ctx, None, "", async |conn| {
        service::update(conn, &ctx, id, patch, expected).await
    })
    .await?;
    Ok(stored.into_response())
}

/// Handles the POST /v1/accounts/{id}/close route: closes an account for good.
#[utoipa::path(
    tag = "accounts",
    request_body = CloseAccount,
    params(
        ("id" = Uuid, Path, description = "Account id"),
        ("If-Match" = Option<String>, Header, description = "ETag of the version being closed"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 200, description = "The closed account", body = AccountView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 412, response = PreconditionFailed),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[post("/accounts/{id}/close")]
pub async fn close_account(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    req: HttpRequest,
    id: web::Path<Uuid>,
    body: ApiJson<CloseAccount>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::AccountsClose)?;
    let close = body.0;
    let mut errors = crate::validate::Errors::default();
    errors.text("reason", &close.reason, 500);
    errors.finish()?;
    let expected = match close.version {
        Some(_) => Expected::from_request(&req, close.version)?,
        None => Expected::optional(&req)?,
    };
    let id = id.into_inner();
    let fingerprint =
        idempotency::fingerprint("POST", &format!("/v1/accounts/{id}/close"), &close)?;
    let stored = idempotency::run(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| service::close(conn, &ctx, id, &close, expected).await,
    )
    .await?;
    Ok(stored.into_response())
}

/// Handles the GET /v1/accounts/{id}/history route: every recorded change to the account and
/// its contacts, newest first.
#[utoipa::path(
    tag = "accounts",
    params(("id" = Uuid, Path, description = "Account id"), PageParams),
    responses(
        (status = 200, description = "A page of the account's audit entries, newest first", body = Page<AuditEventView>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/accounts/{id}/history")]
pub async fn account_history(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
    page: ApiQuery<PageParams>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::AccountsRead)?;
    let limit = page.0.limit()?;
    let mut conn = crate::db::conn(&state.pool).await?;
    // Visibility first: another partner's account is a 404, whatever the role may read.
    let account = store::find_visible(&mut conn, id.into_inner(), ctx.partner_scope()).await?;
    ctx.require(Permission::AuditRead)?;
    let filter = AuditFilter {
        account_id: Some(account.id),
        ..Default::default()
    };
    let rows = audit::store::list(&mut conn, &filter, page.0.after()?, limit).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |r| r.id, AuditEventView::from)))
}
